//! The runbooks sitrep ships (examples/ and the demo's) import and lint clean: no
//! errors, no warnings, and every default passes its parameter's value check.

use sitrep_runbook::{Severity, check_value, lint, parse};

const SHIPPED: &[(&str, &str)] = &[
    (
        "examples/runbooks/checkout-high-error-rate.md",
        include_str!("../../../examples/runbooks/checkout-high-error-rate.md"),
    ),
    (
        "examples/runbooks/node-disk-almost-full.md",
        include_str!("../../../examples/runbooks/node-disk-almost-full.md"),
    ),
    (
        "examples/runbooks/postgres-replication-lag.md",
        include_str!("../../../examples/runbooks/postgres-replication-lag.md"),
    ),
    (
        "crates/demo/runbooks/shopfront-checkout-errors.md",
        include_str!("../../demo/runbooks/shopfront-checkout-errors.md"),
    ),
    (
        "crates/demo/runbooks/shopfront-disk-filling.md",
        include_str!("../../demo/runbooks/shopfront-disk-filling.md"),
    ),
];

#[test]
fn shipped_runbooks_lint_clean() {
    for (name, text) in SHIPPED {
        let (rb, mut d) = parse(text);
        d.extend(lint(&rb, text));
        let loud: Vec<_> = d.iter().filter(|x| x.severity > Severity::Info).collect();
        assert!(loud.is_empty(), "{name}: {loud:#?}");
        let fm = rb.front_matter.as_ref().expect("front matter");
        for (p, param) in &fm.params {
            if let Some(v) = &param.default {
                assert_eq!(check_value(param.ty.as_ref(), v), Ok(()), "{name}: {p}");
            }
        }
    }
}

/// The values the demo sends in its alerts (crates/demo/src/lib.rs) pass the demo
/// runbooks' types: `instance` is the shop's `127.0.0.1:PORT`, `spool_dir` a directory
/// under the demo's data dir.
#[test]
fn demo_alert_values_pass() {
    let (checkout, _) = parse(SHIPPED[3].1);
    let (disk, _) = parse(SHIPPED[4].1);
    let ty = |rb: &sitrep_runbook::Runbook, p: &str| {
        rb.front_matter
            .as_ref()
            .and_then(|f| f.params.get(p))
            .and_then(|p| p.ty.clone())
    };
    assert_eq!(
        check_value(ty(&checkout, "instance").as_ref(), "127.0.0.1:41234"),
        Ok(())
    );
    for dir in ["/tmp/sitrep-demo-Ab3x9Q/spool", "/home/me/demo data/spool"] {
        assert_eq!(check_value(ty(&disk, "spool_dir").as_ref(), dir), Ok(()));
    }
}
