//! Property tests: wrappers and pipes never lower a corpus command's level, appending
//! `; rm -rf /` always makes a script destructive, and classify never panics.

use proptest::prelude::*;
use sitrep_risk::{Classifier, Level};

const CORPUS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/corpus.tsv"
));

/// Single-line corpus commands without single quotes (so they can be wrapped in '...').
fn commands() -> Vec<String> {
    CORPUS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').nth(1))
        .filter(|c| !c.contains('\'') && !c.contains("\\n"))
        .map(str::to_string)
        .collect()
}

fn wrap(kind: u8, cmd: &str) -> String {
    match kind % 6 {
        0 => format!("sudo {cmd}"),
        1 => format!("bash -c '{cmd}'"),
        2 => format!("ssh -p 22 admin@host '{cmd}'"),
        3 => format!("cat /etc/hosts | {cmd}"),
        4 => format!("{cmd} | grep x"),
        _ => format!("sudo -u root timeout 10 sh -c '{cmd}'"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn wrapping_never_lowers(idx in any::<prop::sample::Index>(), kind in any::<u8>()) {
        let cmds = commands();
        let cmd = idx.get(&cmds);
        let c = Classifier::builtin();
        let plain = c.classify(cmd).level;
        let wrapped = wrap(kind, cmd);
        let got = c.classify(&wrapped).level;
        prop_assert!(got >= plain, "{wrapped:?}: {got} < {plain}");
    }

    #[test]
    fn appending_rm_rf_is_destructive(idx in any::<prop::sample::Index>()) {
        let cmds = commands();
        let script = format!("{}; rm -rf /", idx.get(&cmds));
        prop_assert_eq!(Classifier::builtin().classify(&script).level, Level::Destructive);
    }

    #[test]
    fn never_panics_and_spans_are_valid(s in "\\PC{0,200}") {
        let r = Classifier::builtin().classify(&s);
        for cmd in &r.commands {
            prop_assert!(s.get(cmd.span.clone()).is_some());
            prop_assert!(cmd.level <= r.level);
        }
    }

    #[test]
    fn shellish_noise_never_panics(s in "[a-z<>|&;$(){}`'\" \\n=-]{0,120}") {
        let r = Classifier::builtin().classify(&s);
        for cmd in &r.commands {
            prop_assert_eq!(s.get(cmd.span.clone()), Some(cmd.text.as_str()));
        }
    }
}

/// A flag whose second character is multi-byte, after every program whose flags are read
/// (the fuzzer found `awk -\u{fffd}-list` panicking on a byte split).
#[test]
fn multibyte_flags_never_panic() {
    let classifier = Classifier::builtin();
    for program in [
        "awk", "gawk", "sed", "perl", "python3", "ruby", "node", "jq", "grep", "psql",
    ] {
        for flag in ["-\u{fffd}-list", "-é", "-éx", "-\u{1F600}", "--\u{fffd}=1"] {
            let script = format!("{program} {flag} '{{print}}' x");
            let r = classifier.classify(&script);
            assert!(!r.commands.is_empty(), "{script}");
        }
    }
}
