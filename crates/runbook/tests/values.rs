//! Value checks: each parameter type accepts what it should and refuses the rest with a
//! reason a responder understands; the default rule never lets shell syntax through.

use proptest::prelude::*;
use sitrep_runbook::{ParamPattern, ParamType, ValueRefusal, check_argument, check_value};

fn accepts(ty: Option<&ParamType>, values: &[&str]) {
    for v in values {
        assert_eq!(check_value(ty, v), Ok(()), "{ty:?} should accept {v:?}");
    }
}

/// Each value is refused, and the reason's words contain `says`.
fn refuses(ty: Option<&ParamType>, cases: &[(&str, &str)]) {
    for (v, says) in cases {
        let e = check_value(ty, v).expect_err(&format!("{ty:?} should refuse {v:?}"));
        let msg = e.to_string();
        assert!(
            msg.contains(says),
            "{ty:?} on {v:?}: {msg:?} lacks {says:?}"
        );
    }
}

#[test]
fn default_rule() {
    accepts(
        None,
        &[
            "web-1",
            "10.0.0.7:9100",
            "a.b_c",
            "user@host",
            "k=v,x+y",
            "x",
        ],
    );
    let long = "a".repeat(257);
    refuses(
        None,
        &[
            ("", "empty"),
            (&long, "longer than 256 characters"),
            ("-rf", "starts with '-'"),
            ("a..b", "contains '..'"),
            ("a b", "contains ' '"),
            ("$(id)", "contains '$'"),
            ("a;b", "contains ';'"),
            ("/etc/passwd", "contains '/'"),
            ("it's", "contains '\\''"),
            ("a\nb", "line break"),
            ("a\0b", "NUL"),
            ("é", "contains 'é'"),
        ],
    );
    assert_eq!(check_value(None, &"a".repeat(256)), Ok(()));
}

#[test]
fn every_type_refuses_nul_newlines_and_huge_values() {
    let huge = "a".repeat(4097);
    let types = [
        ParamType::Hostname,
        ParamType::K8sName,
        ParamType::Int,
        ParamType::Duration,
        ParamType::Enum(vec!["a\nb".into(), "a\0b".into(), huge.clone()]),
        ParamType::Pattern(ParamPattern::new("(?s).*").expect("regex")),
        ParamType::Path {
            roots: vec!["/".into()],
        },
    ];
    for ty in &types {
        refuses(
            Some(ty),
            &[
                ("a\nb", "line break"),
                ("a\rb", "line break"),
                ("a\0b", "NUL"),
                (&huge, "longer than 4096 bytes"),
                ("", "empty"),
            ],
        );
    }
}

#[test]
fn hostname() {
    let t = Some(&ParamType::Hostname);
    accepts(
        t,
        &[
            "db-1",
            "orders-db-primary.eu-west-1.example.com",
            "127.0.0.1",
            "127.0.0.1:8081",
            "web-1.internal:9100",
            "::1",
            "fe80::1",
            "[::1]:9090",
            "2001:db8::8a2e:370:7334",
            "NODE-7",
        ],
    );
    refuses(
        t,
        &[
            ("-oProxyCommand=x", "not a hostname"),
            ("host name", "not a hostname"),
            ("a_b.example", "not a hostname"),
            ("host-", "not a hostname"),
            ("a..b", "not a hostname"),
            ("example.com.", "not a hostname"),
            ("host:0", "not a hostname"),
            ("host:65536", "not a hostname"),
            ("host:", "not a hostname"),
            ("host:80:90", "not a hostname"),
            ("[::1]", "not a hostname"),
            ("[db-1]:80", "not a hostname"),
            ("user@host", "not a hostname"),
            ("$(reboot)", "not a hostname"),
        ],
    );
    let label = "a".repeat(64);
    refuses(t, &[(&label, "not a hostname")]);
}

#[test]
fn k8s_name() {
    let t = Some(&ParamType::K8sName);
    accepts(t, &["checkout", "checkout-api-7d9f", "a.b-c.d", "0abc"]);
    let long = "a".repeat(254);
    refuses(
        t,
        &[
            ("Checkout", "not a Kubernetes name"),
            ("-n", "not a Kubernetes name"),
            ("api-", "not a Kubernetes name"),
            ("a..b", "not a Kubernetes name"),
            ("a_b", "not a Kubernetes name"),
            ("a b", "not a Kubernetes name"),
            (&long, "not a Kubernetes name"),
        ],
    );
}

#[test]
fn int() {
    let t = Some(&ParamType::Int);
    accepts(t, &["0", "42", "-5", "9223372036854775807"]);
    refuses(
        t,
        &[
            ("12345678901234567890", "not an integer"),
            ("4.2", "not an integer"),
            ("+1", "not an integer"),
            ("-", "not an integer"),
            ("1e3", "not an integer"),
            ("--1", "not an integer"),
        ],
    );
}

#[test]
fn duration() {
    let t = Some(&ParamType::Duration);
    accepts(t, &["30s", "5m", "1h30m", "2d", "250ms"]);
    refuses(
        t,
        &[
            ("30", "not a duration"),
            ("1h 30m", "not a duration"),
            ("soon", "not a duration"),
            ("5x", "not a duration"),
            ("-5m", "not a duration"),
        ],
    );
}

#[test]
fn enumeration() {
    let t = ParamType::Enum(vec!["primary".into(), "replica".into()]);
    accepts(Some(&t), &["primary", "replica"]);
    refuses(
        Some(&t),
        &[
            ("Primary", "not one of primary, replica"),
            ("primary ", "not one of"),
        ],
    );
}

#[test]
fn pattern_matches_the_whole_value() {
    let t = ParamType::Pattern(ParamPattern::new("[a-f0-9]{12}|run-[0-9]+").expect("regex"));
    accepts(Some(&t), &["0123456789ab", "run-42"]);
    refuses(
        Some(&t),
        &[
            (
                "0123456789abc",
                "does not match the pattern [a-f0-9]{12}|run-[0-9]+",
            ),
            ("xrun-42", "does not match"),
            ("run-42; reboot", "does not match"),
        ],
    );
    assert!(ParamPattern::new("(").is_err());
}

#[test]
fn path_under_roots() {
    let t = ParamType::Path {
        roots: vec!["/var/log".into(), "/srv/app".into()],
    };
    accepts(
        Some(&t),
        &[
            "/var/log",
            "/var/log/nginx/access.log",
            "/srv/app/a b",
            "/srv/app/x..y",
        ],
    );
    refuses(
        Some(&t),
        &[
            ("var/log/x", "not an absolute path"),
            (
                "/var/logs/x",
                "outside the declared roots /var/log, /srv/app",
            ),
            ("/var/log/../../etc/shadow", "'..' component"),
            ("/var/log/./x", "'.' component"),
            ("/var/log//x", "'//'"),
            ("/var/log/x/", "ends with '/'"),
            ("/etc/passwd", "outside the declared roots"),
            ("/", "outside the declared roots"),
        ],
    );
    let everywhere = ParamType::Path {
        roots: vec!["/".into()],
    };
    accepts(Some(&everywhere), &["/", "/tmp/sitrep-demo-1/spool"]);
}

#[test]
fn leading_dash_needs_a_double_dash_before_the_placeholder() {
    let int = ParamType::Int;
    assert_eq!(check_argument(Some(&int), "-5", true), Ok(()));
    assert_eq!(
        check_argument(Some(&int), "-5", false),
        Err(ValueRefusal::LeadingDash)
    );
    assert_eq!(check_argument(Some(&int), "5", false), Ok(()));
    // The default rule refuses a leading `-` wherever the value lands.
    assert_eq!(
        check_argument(None, "-x", true),
        Err(ValueRefusal::LeadingDash)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the characters around it, a value with shell syntax, whitespace, quotes
    /// or `/` in it, or starting with `-`, never passes the default rule.
    #[test]
    fn default_rule_never_accepts_shell_syntax(
        before in "[a-zA-Z0-9._:@=+,-]{0,20}",
        bad in prop::sample::select(vec![
            ' ', '\t', '\n', '\r', '\0', '$', '`', '\\', '"', '\'', ';', '&', '|', '<', '>',
            '(', ')', '{', '}', '[', ']', '*', '?', '!', '#', '~', '%', '^', '/',
        ]),
        after in "[a-zA-Z0-9._:@=+,-]{0,20}",
    ) {
        let v = format!("{before}{bad}{after}");
        prop_assert!(check_value(None, &v).is_err(), "accepted {:?}", v);
    }

    #[test]
    fn default_rule_never_accepts_a_leading_dash(rest in "[a-zA-Z0-9._:@=+,-]{0,30}") {
        let v = format!("-{rest}");
        prop_assert!(check_value(None, &v).is_err());
    }

    /// Anything the default rule accepts is made only of its allowed characters.
    #[test]
    fn default_rule_accepts_only_its_alphabet(v in "\\PC{0,40}") {
        if check_value(None, &v).is_ok() {
            prop_assert!(v.chars().all(|c| c.is_ascii_alphanumeric() || "._:@=+,-".contains(c)));
            prop_assert!(!v.starts_with('-') && !v.contains("..") && !v.is_empty());
        }
    }

    /// A path accepted under a root never climbs out of it.
    #[test]
    fn accepted_paths_stay_under_their_root(parts in prop::collection::vec("[a-z.]{1,4}", 0..6)) {
        let v = format!("/var/log/{}", parts.join("/"));
        let t = ParamType::Path { roots: vec!["/var/log".into()] };
        if check_value(Some(&t), &v).is_ok() {
            prop_assert!(v.split('/').all(|c| c != ".." && c != "."));
        }
    }
}
