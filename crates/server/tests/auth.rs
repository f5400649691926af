//! Role boundaries, token revocation, browser login with session cookies and CSRF.

mod common;

use common::start;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_boundary_holds() {
    let s = start().await;
    // No token, a bad token, a malformed header: 401.
    let r = s.http.get(s.u("/api/v1/incidents")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    assert_eq!(s.get("/api/v1/incidents", "sitrep_nope").await.0, 401);
    let r = s
        .http
        .get(s.u("/api/v1/incidents"))
        .header("authorization", "Token abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Reads: viewer.
    assert_eq!(s.get("/api/v1/incidents", &s.viewer).await.0, 200);
    // Incident actions: responder.
    let declare =
        json!({"title": "checkout is down", "severity": "SEV2", "runbooks": ["local-service.md"]});
    let (st, v) = s
        .post("/api/v1/incidents", &s.viewer, declare.clone())
        .await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["error"]["required_role"], "responder");
    let id = s.declare(declare).await;
    let ack = format!("/api/v1/incidents/{id}/acknowledge");
    assert_eq!(s.post(&ack, &s.viewer, json!({})).await.0, 403);
    let (st, v) = s.post(&ack, &s.responder, json!({})).await;
    assert_eq!(st, 200, "{v}");
    // The actor recorded is the token's name.
    let tl = s.timeline(&id).await;
    assert_eq!(tl.last().unwrap()["record"]["actor"], "rita");

    // Severity, roles, resolve, reopen: commander.
    let sev = format!("/api/v1/incidents/{id}/severity");
    assert_eq!(
        s.post(&sev, &s.responder, json!({"severity": "SEV1"}))
            .await
            .0,
        403
    );
    assert_eq!(
        s.post(&sev, &s.commander, json!({"severity": "SEV1"}))
            .await
            .0,
        200
    );
    let roles = format!("/api/v1/incidents/{id}/roles");
    let body = json!({"role": "scribe", "person": "sam"});
    assert_eq!(s.post(&roles, &s.responder, body.clone()).await.0, 403);
    assert_eq!(s.post(&roles, &s.commander, body).await.0, 200);
    let resolve = format!("/api/v1/incidents/{id}/resolve");
    assert_eq!(s.post(&resolve, &s.responder, json!({})).await.0, 403);

    // Tokens: admin only (a commander is not enough).
    assert_eq!(s.get("/api/v1/tokens", &s.commander).await.0, 403);
    let (st, v) = s.get("/api/v1/tokens", &s.admin).await;
    assert_eq!(st, 200);
    // Listing never shows a secret or its hash.
    assert!(!v.to_string().contains("secret"), "{v}");
    let (st, created) = s
        .post(
            "/api/v1/tokens",
            &s.admin,
            json!({"name": "bot", "role": "viewer"}),
        )
        .await;
    assert_eq!(st, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sitrep_"));
    assert_eq!(s.get("/api/v1/whoami", &secret).await.1["name"], "bot");
    let tid = created["token"]["id"].as_str().unwrap();
    let r = s
        .http
        .delete(s.u(&format!("/api/v1/tokens/{tid}")))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Revoked: refused at once.
    assert_eq!(s.get("/api/v1/whoami", &secret).await.0, 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_uses_a_session_cookie_and_csrf() {
    let s = start().await;
    let id = s
        .declare(json!({"title": "login test", "runbooks": ["local-service.md"]}))
        .await;
    // A wrong token does not log in.
    let r = s
        .http
        .post(s.u("/login"))
        .form(&[("token", "sitrep_wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A browser is sent back to the login page instead.
    let r = s
        .http
        .post(s.u("/login"))
        .header("accept", "text/html")
        .form(&[("token", "sitrep_wrong"), ("next", "/incidents/3")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers()["location"],
        "/login?failed=1&next=%2Fincidents%2F3"
    );
    assert!(r.headers().get("set-cookie").is_none());

    let r = s
        .http
        .post(s.u("/login"))
        .form(&[("token", s.responder.as_str()), ("next", "/incidents")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/incidents");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    let session = set.split(';').next().unwrap().to_owned();

    // Reads with the cookie need no CSRF token; whoami hands it to the page.
    let r = s
        .http
        .get(s.u("/api/v1/whoami"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["name"], "rita");
    assert_eq!(me["via"], "session");
    let csrf = me["csrf"].as_str().unwrap().to_owned();

    let note = format!("/api/v1/incidents/{id}/notes");
    // Mutations without the CSRF token: 403.
    let r = s
        .http
        .post(s.u(&note))
        .header("cookie", &session)
        .json(&json!({"text": "from the browser"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "csrf");
    // A wrong one: 403.
    let r = s
        .http
        .post(s.u(&note))
        .header("cookie", &session)
        .header("x-csrf-token", "guess")
        .json(&json!({"text": "from the browser"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // The right one in the header: done, recorded as the token's name.
    let r = s
        .http
        .post(s.u(&note))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&json!({"text": "from the browser"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let tl = s.timeline(&id).await;
    assert_eq!(tl.last().unwrap()["record"]["actor"], "rita");

    // Logout with the CSRF token as a form field ends the session.
    let r = s
        .http
        .post(s.u("/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let r = s
        .http
        .get(s.u("/api/v1/whoami"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    s.stop().await;
}

/// Every API route: 401 without a token; every mutation (and the admin reads) 403 for a
/// viewer, decided before the body or the path's target is looked at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_route_table_is_guarded() {
    let s = start().await;
    let mut checked = 0;
    for (method, path) in sitrep_server::route_table() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let concrete = path
            .replace("{*path}", "local-service.md")
            .replace('{', "x")
            .replace('}', "");
        let req = |token: Option<&str>| {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut r = s.http.request(m, s.u(&concrete)).body("{}");
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            async move { r.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(req(None).await, 401, "{method} {path} without a token");
        let admin_read = path == "/api/v1/tokens";
        if method != "get" || admin_read {
            assert_eq!(
                req(Some(&s.viewer)).await,
                403,
                "{method} {path} as a viewer"
            );
        } else {
            let st = req(Some(&s.viewer)).await;
            assert!(
                st == 200 || st == 404 || st == 400,
                "{method} {path} as a viewer: {st}"
            );
        }
        checked += 1;
    }
    assert!(checked > 30, "{checked}");
    s.stop().await;
}

/// A second server over the same data dir: a replica behind a load balancer, or the
/// same server after a restart.
async fn replica(s: &common::Server) -> (String, tokio::sync::oneshot::Sender<()>) {
    let cfg = sitrep_app::Config {
        data_dir: Some(s.dir.path().join("data")),
        runbooks: Some(common::runbooks_dir()),
        ..sitrep_app::Config::default()
    };
    let app = sitrep_app::App::open(cfg).await.unwrap();
    let state = sitrep_server::ServerState::new(app).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sitrep_server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    (url, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_stored_so_every_replica_knows_it_and_revocation_ends_it() {
    let s = start().await;
    let (session, _) = s.login(&s.responder).await;
    let cookie_value = session.split_once('=').unwrap().1.to_owned();

    // The cookie is never stored, only its hash.
    let db = std::fs::read(s.dir.path().join("data/sitrep.db")).unwrap();
    let wal = std::fs::read(s.dir.path().join("data/sitrep.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes
                .windows(cookie_value.len())
                .any(|w| w == cookie_value.as_bytes()),
            "the session cookie is stored in clear"
        );
    }

    // Another server over the same store accepts the session, CSRF token included.
    let (other, stop_other) = replica(&s).await;
    let whoami = |base: String| {
        let http = s.http.clone();
        let session = session.clone();
        async move {
            let r = http
                .get(format!("{base}/api/v1/whoami"))
                .header("cookie", &session)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (st, me) = whoami(other.clone()).await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["name"], "rita");
    let csrf = me["csrf"].as_str().unwrap().to_owned();
    let id = s
        .declare(json!({"title": "replica test", "runbooks": ["local-service.md"]}))
        .await;
    let r = s
        .http
        .post(format!("{other}/api/v1/incidents/{id}/notes"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&json!({"text": "from the other replica"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // Revoking the token ends the session on every server.
    let (st, tokens) = s.get("/api/v1/tokens", &s.admin).await;
    assert_eq!(st, 200, "{tokens}");
    let rita = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "rita")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .http
        .delete(s.u(&format!("/api/v1/tokens/{rita}")))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(whoami(other.clone()).await.0, 401);
    assert_eq!(whoami(s.url.clone()).await.0, 401);
    let _ = stop_other.send(());
    s.stop().await;
}
