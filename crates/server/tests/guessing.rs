//! Guessing credentials (issue 21, point 7): failed bearer tokens, logins and receiver
//! credentials are limited per client address, answered 429 with `Retry-After` once
//! used up (even a right credential, so guessing cannot go on), logged and counted in
//! `/metrics`; other addresses are not affected.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use sitrep_app::Config;

use common::Server;

async fn start() -> Server {
    common::start_with(|c: &mut Config| {
        c.server.guessing.burst = 3;
        c.server.guessing.refill = Duration::from_secs(3600);
    })
    .await
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn whoami(s: &Server, http: &reqwest::Client, token: &str) -> reqwest::Response {
    http.get(s.u("/api/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_bearer_tokens_are_limited_per_address() {
    let s = start().await;
    let guesser = client_from("127.0.0.2");
    for i in 0..3 {
        let r = whoami(&s, &guesser, &format!("sitrep_wrong{i}")).await;
        assert_eq!(r.status().as_u16(), 401);
    }
    // Used up: refused before the credential is looked at, the right one included.
    let r = whoami(&s, &guesser, &s.viewer).await;
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 3600, "{wait}");
    // Another address is not affected.
    let other = client_from("127.0.0.3");
    assert_eq!(whoami(&s, &other, &s.viewer).await.status().as_u16(), 200);
    // Receivers count as bearer credentials too.
    let r = guesser
        .post(s.u("/api/v1/alerts/generic"))
        .bearer_auth("receiver-secret")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let m = s.state.metrics();
    assert_eq!(m.auth_failures("bearer", "failed"), 3);
    assert_eq!(m.auth_failures("bearer", "limited"), 2);
    let text = s
        .http
        .get(s.u("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("sitrep_auth_failures_total{kind=\"bearer\",outcome=\"failed\"} 3"),
        "{text}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_address() {
    let s = start().await;
    let guesser = client_from("127.0.0.4");
    let login = |token: String| {
        let guesser = guesser.clone();
        let url = s.u("/login");
        async move {
            guesser
                .post(url)
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for i in 0..3 {
        assert_eq!(login(format!("wrong{i}")).await, 401);
    }
    assert_eq!(login(s.viewer.clone()).await, 429);
    assert_eq!(s.state.metrics().auth_failures("login", "failed"), 3);
    // The right token from elsewhere still logs in.
    let (cookie, _) = s.login(&s.viewer).await;
    assert!(cookie.starts_with("sitrep_session="));
    s.stop().await;
}
