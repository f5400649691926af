//! What protects a browser on sitrep's pages: the security headers on every response, a
//! UI with no inline script or style (so the strict CSP breaks nothing), a login that
//! refuses posts from other sites, and `next=` that never leaves this site.

mod common;

use common::{Server, start};
use serde_json::json;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

fn assert_secure(path: &str, r: &reqwest::Response) {
    let h = r.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(get("content-security-policy"), CSP, "{path}");
    assert_eq!(get("x-frame-options"), "DENY", "{path}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(get("referrer-policy"), "same-origin", "{path}");
}

/// Markup the CSP would block: the page would break (or carry an injection) in a browser.
fn assert_no_inline_code(path: &str, html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<style",
        " style=",
        "hx-on",
        "javascript:",
        " onclick=",
        " onload=",
    ] {
        assert!(!lower.contains(bad), "{path} has {bad}");
    }
    for (i, _) in lower.match_indices("<script") {
        let tag = &lower[i..i + lower[i..].find('>').unwrap()];
        assert!(
            tag.contains(" src=\"/assets/"),
            "{path}: inline script {tag}"
        );
        let after = &lower[i + tag.len() + 1..];
        assert!(after.starts_with("</script>"), "{path}: script body");
    }
}

async fn declared_incident(s: &Server) -> i64 {
    let id = s
        .declare(json!({"title": "csp", "runbooks": ["local-service.md"]}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    inc["incident"]["number"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_carries_the_headers_and_no_inline_code() {
    let s = start().await;
    let n = declared_incident(&s).await;
    let (cookie, _) = s.login(&s.commander).await;
    let pages = [
        "/login".to_owned(),
        "/incidents".to_owned(),
        format!("/incidents/{n}"),
        format!("/incidents/{n}/timeline"),
        format!("/incidents/{n}/plan?runbook=local-service.md&step=greet"),
        format!("/incidents/{n}/postmortem"),
        "/runbooks".to_owned(),
        "/runbooks/local-service.md".to_owned(),
        "/ledger".to_owned(),
        "/ack/not-a-token".to_owned(),
    ];
    for path in &pages {
        let r = s
            .http
            .get(s.u(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_secure(path, &r);
        assert_no_inline_code(path, &r.text().await.unwrap());
    }
    // Assets, the API, errors and probes carry them too.
    for path in [
        "/assets/sitrep.js",
        "/assets/sitrep.css",
        "/assets/htmx.min.js",
        "/api/v1/whoami",
        "/no-such-page",
        "/healthz",
        "/incidents/999999",
    ] {
        let r = s
            .http
            .get(s.u(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_secure(path, &r);
    }
    s.stop().await;
}

/// htmx would otherwise insert a `<style>` for its indicators (blocked by the CSP) and
/// may evaluate code from attributes; the pages turn both off before htmx loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htmx_is_configured_for_the_csp() {
    let s = start().await;
    let r = s.http.get(s.u("/login")).send().await.unwrap();
    let html = r.text().await.unwrap();
    let meta = html
        .find(r#"<meta name="htmx-config""#)
        .expect("htmx-config meta");
    let htmx = html.find("/assets/htmx.min.js").unwrap();
    assert!(meta < htmx, "the config comes before htmx");
    let config = &html[meta..meta + html[meta..].find('>').unwrap()];
    for want in [
        r#""includeIndicatorStyles":false"#,
        r#""allowEval":false"#,
        r#""allowScriptTags":false"#,
    ] {
        assert!(config.contains(want), "{config}");
    }
    s.stop().await;
}

async fn post_login(s: &Server, headers: &[(&str, &str)], next: &str) -> reqwest::Response {
    let mut req = s
        .http
        .post(s.u("/login"))
        .form(&[("token", s.responder.as_str()), ("next", next)]);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_posted_from_another_site_is_refused() {
    let s = start().await;
    let host = s.url.trim_start_matches("http://").to_owned();
    let refused: [&[(&str, &str)]; 4] = [
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        &[("sec-fetch-site", "same-site")],
        // Plain http: no fetch metadata, only Origin.
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
    ];
    for headers in refused {
        let r = post_login(&s, headers, "/incidents").await;
        assert_eq!(r.status().as_u16(), 403, "{headers:?}");
        assert!(r.headers().get("set-cookie").is_none(), "{headers:?}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "csrf", "{headers:?}");
    }
    // The login form on this site, over https/loopback and over plain http; a script.
    let origin = s.url.clone();
    let allowed: [&[(&str, &str)]; 3] = [
        &[("sec-fetch-site", "same-origin"), ("origin", &origin)],
        &[("origin", &origin), ("host", &host)],
        &[],
    ];
    for headers in allowed {
        let r = post_login(&s, headers, "/incidents/7").await;
        assert_eq!(r.status().as_u16(), 303, "{headers:?}");
        assert_eq!(r.headers()["location"], "/incidents/7");
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("sitrep_session="), "{cookie}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_login_the_browser_stays_on_this_site() {
    let s = start().await;
    for hostile in [
        "//evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/%2F%2Fevil.example",
        "https://evil.example",
        "javascript:alert(1)",
    ] {
        let r = post_login(&s, &[], hostile).await;
        assert_eq!(r.status().as_u16(), 303, "{hostile:?}");
        assert_eq!(r.headers()["location"], "/incidents", "{hostile:?}");
    }
    // A wrong token sends the browser back to the form with the same checked `next`.
    let r = s
        .http
        .post(s.u("/login"))
        .header("accept", "text/html")
        .form(&[("token", "sitrep_wrong"), ("next", "/%09/evil.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/login?failed=1&next=%2Fincidents");
    s.stop().await;
}

/// The login page says a token was wrong, and carries `next` to the form only when it
/// is a path here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_reports_failure_and_keeps_a_local_next() {
    let s = start().await;
    let page = |q: &'static str| {
        let url = s.u(&format!("/login{q}"));
        let http = s.http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = page("?failed=1&next=%2Fincidents%2F3").await;
    assert!(html.contains("That token is not valid."), "{html}");
    assert!(
        html.contains(r#"<input type="hidden" name="next" value="/incidents/3">"#),
        "{html}"
    );
    let html = page("?next=%2F%2Fevil.example").await;
    assert!(!html.contains("That token is not valid."));
    assert!(!html.contains("evil.example"), "{html}");
    assert!(
        html.contains(r#"<input type="hidden" name="next" value="/incidents">"#),
        "{html}"
    );
    s.stop().await;
}
