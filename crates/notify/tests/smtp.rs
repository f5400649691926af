//! Email against a real SMTP server: Python's aiosmtpd running `tests/smtp_server.py` on
//! loopback. Plain SMTP delivery with the subject and body checked, a 4xx answer (retry),
//! a 5xx answer (permanent), and a relay that is down and then comes up.
//!
//! These tests need `python3` with `aiosmtpd` (`python3 -m pip install aiosmtpd`; `.ci/run`
//! installs it). Without it they fail and say so: they never skip.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{free_port, page};
use sitrep_notify::{
    Channel, Notifier, NotifierConfig, Outcome, OutcomeKind, Route, SmtpConfig, SmtpSecurity,
    unix_now_ms,
};

const INSTALL: &str =
    "the SMTP tests need python3 with aiosmtpd: run `python3 -m pip install aiosmtpd`";

/// A running aiosmtpd; killed when dropped.
struct SmtpServer {
    port: u16,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl SmtpServer {
    fn start(port: u16) -> Self {
        Self::start_with(port, None)
    }

    /// With `Some("user:password")`, the server requires that login.
    fn start_with(port: u16, auth: Option<&str>) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .arg(script)
            .arg(port.to_string())
            .args(auth)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{python}` ({e}); {INSTALL}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self { port, child, lines };
        match server.lines.recv_timeout(Duration::from_secs(15)) {
            Ok(l) if l == "READY" => server,
            Ok(l) => panic!("SMTP test server did not start: {l}; {INSTALL}"),
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                panic!("SMTP test server did not start (exit: {status:?}); {INSTALL}")
            }
        }
    }

    /// The next message the server accepted, as JSON.
    fn next_message(&self) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the SMTP server received no message");
        serde_json::from_str(&line).unwrap()
    }

    fn assert_no_message(&self) {
        if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            panic!("unexpected message: {l}");
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn relay(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        from: "sitrep <sitrep@example.com>".into(),
    }
}

fn notifier() -> Notifier {
    Notifier::new(NotifierConfig::default()).unwrap()
}

#[tokio::test]
async fn plain_smtp_delivers_subject_and_body() {
    let server = SmtpServer::start(free_port());
    let ch = Channel::email("bob-email", "bob@example.com", relay(server.port));
    let a = notifier().send(&ch, &page()).await;
    assert_eq!(a.outcome, Outcome::Delivered, "{a:?}");
    let m = server.next_message();
    assert_eq!(m["from"], "sitrep@example.com");
    assert_eq!(m["to"], serde_json::json!(["bob@example.com"]));
    let data = m["data"].as_str().unwrap().replace("\r\n", "\n");
    assert!(
        data.contains("Subject: [SEV1] Page: #42 Checkout error rate above 5% (checkout-api)\n"),
        "{data}"
    );
    assert!(
        data.contains("X-Sitrep-Delivery: inc-42:standard:c1:l0:rotation:primary:bob-email\n"),
        "{data}"
    );
    assert!(data.contains("Message-ID: <sitrep."), "{data}");
    assert!(data.contains("Content-Type: text/plain"), "{data}");
    let body = data.split_once("\n\n").map(|(_, b)| b).unwrap();
    for line in [
        "SEV1 page: #42 Checkout error rate above 5%",
        "Status:   triggered",
        "Service:  checkout-api",
        "Runbook:  runbooks/checkout.md",
        "  error rate 7.2% (threshold 5%)",
        "Acknowledge: https://sitrep.example/ack/TOKEN",
        "Incident:    https://sitrep.example/incidents/42",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in:\n{body}"
        );
    }
}

#[tokio::test]
async fn smtp_4xx_is_retried_and_5xx_is_permanent() {
    let server = SmtpServer::start(free_port());
    let n = notifier();
    let temp = Channel::email("t", "tempfail@example.com", relay(server.port));
    let a = n.send(&temp, &page()).await;
    let Outcome::Retry {
        after: None,
        reason,
    } = &a.outcome
    else {
        panic!("{a:?}")
    };
    assert!(reason.starts_with("SMTP 451"), "{reason}");
    assert!(reason.contains("Mailbox busy"), "{reason}");

    let perm = Channel::email("p", "permfail@example.com", relay(server.port));
    let a = n.send(&perm, &page()).await;
    let Outcome::Permanent { reason } = &a.outcome else {
        panic!("{a:?}")
    };
    assert!(reason.starts_with("SMTP 550"), "{reason}");
    server.assert_no_message();

    // The pooled connection still works after the refusals.
    let ok = Channel::email("ok", "carol@example.com", relay(server.port));
    assert!(n.send(&ok, &page()).await.outcome.is_delivered());
    assert_eq!(server.next_message()["to"][0], "carol@example.com");
}

#[tokio::test]
async fn relay_down_then_up_retries_then_delivers() {
    let port = free_port();
    let n = notifier();
    let mut cfg = relay(port);
    cfg.username = Some("sitrep".into());
    cfg.password = Some("hunter2".into());
    let route = Route::to(
        Channel::email("bob-email", "bob@example.com", relay(port))
            .with_timeout(Duration::from_secs(5)),
    );
    let r = n.deliver(&route, &page(), unix_now_ms(), 0).await;
    assert_eq!(r.attempts.len(), 1);
    let Outcome::Retry { reason, .. } = &r.attempts[0].outcome else {
        panic!("{r:?}")
    };
    assert_eq!(
        reason,
        &format!("could not talk to SMTP relay 127.0.0.1:{port}: connection refused")
    );
    assert!(r.retry_after().is_some());

    // A relay with credentials that is down: the reason names no password.
    let with_auth = Channel::email("a", "bob@example.com", cfg);
    let a = n.send(&with_auth, &page()).await;
    assert_eq!(a.outcome.kind(), OutcomeKind::Retry);
    assert!(!format!("{a:?}").contains("hunter2"));

    let server = SmtpServer::start(port);
    let r = n.deliver(&route, &page(), unix_now_ms(), 1).await;
    assert!(r.delivered(), "{r:?}");
    assert_eq!(r.attempts[0].attempt, 2);
    assert_eq!(server.next_message()["to"][0], "bob@example.com");
}

#[tokio::test]
async fn a_bad_address_is_permanent_without_touching_the_network() {
    let n = notifier();
    let ch = Channel::email("x", "not an address", relay(free_port()));
    let a = n.send(&ch, &page()).await;
    assert_eq!(
        a.outcome,
        Outcome::Permanent {
            reason: "invalid recipient address `not an address`".into()
        }
    );
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_refused_not_downgraded() {
    let server = SmtpServer::start(free_port());
    let mut cfg = relay(server.port);
    cfg.security = SmtpSecurity::Starttls;
    cfg.username = Some("sitrep".into());
    cfg.password = Some("hunter2".into());
    let a = notifier()
        .send(&Channel::email("b", "bob@example.com", cfg), &page())
        .await;
    // A relay without STARTTLS is a configuration problem: permanent, and the password
    // was never sent in clear.
    assert_eq!(
        a.outcome,
        Outcome::Permanent {
            reason: format!(
                "SMTP relay 127.0.0.1:{}: STARTTLS is not supported on this server",
                server.port
            )
        }
    );
    assert!(!format!("{a:?}").contains("hunter2"));
    server.assert_no_message();
}

#[tokio::test]
async fn smtp_auth_delivers_with_the_right_password_and_is_permanent_with_a_wrong_one() {
    let server = SmtpServer::start_with(free_port(), Some("sitrep:s3cret-pw"));
    let n = notifier();
    let mut cfg = relay(server.port);
    cfg.username = Some("sitrep".into());
    cfg.password = Some("s3cret-pw".into());
    let ok = Channel::email("ok", "bob@example.com", cfg.clone());
    let a = n.send(&ok, &page()).await;
    assert_eq!(a.outcome, Outcome::Delivered, "{a:?}");
    assert_eq!(server.next_message()["to"][0], "bob@example.com");

    cfg.password = Some("wrong-pw-XYZ".into());
    let bad = Channel::email("bad", "bob@example.com", cfg);
    let a = n.send(&bad, &page()).await;
    let Outcome::Permanent { reason } = &a.outcome else {
        panic!("{a:?}")
    };
    assert!(reason.starts_with("SMTP 535"), "{reason}");
    assert!(!format!("{a:?}").contains("wrong-pw-XYZ"));
    server.assert_no_message();

    // Without credentials the relay refuses the mail: permanent too.
    let anon = Channel::email("anon", "bob@example.com", relay(server.port));
    let a = n.send(&anon, &page()).await;
    assert_eq!(a.outcome.kind(), OutcomeKind::Permanent, "{a:?}");
}

#[tokio::test]
async fn tls_to_a_plain_relay_fails_the_handshake_and_is_retried() {
    let server = SmtpServer::start(free_port());
    let mut cfg = relay(server.port);
    cfg.security = SmtpSecurity::Tls;
    let a = notifier()
        .send(
            &Channel::email("b", "bob@example.com", cfg).with_timeout(Duration::from_secs(3)),
            &page(),
        )
        .await;
    let Outcome::Retry { reason, .. } = &a.outcome else {
        panic!("{a:?}")
    };
    assert!(
        reason.starts_with(&format!(
            "could not talk to SMTP relay 127.0.0.1:{}",
            server.port
        )),
        "{reason}"
    );
    server.assert_no_message();
}
