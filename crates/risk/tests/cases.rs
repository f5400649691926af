//! Table-driven checks of single commands against their expected level (tests/data/risk/cases.tsv).

use sitrep_risk::{Classifier, Level};

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/cases.tsv"
));

#[test]
fn every_case_gets_its_level() {
    let c = Classifier::builtin();
    let mut failures = Vec::new();
    for line in CASES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let Some((want, cmd)) = line.split_once('\t') else {
            failures.push(format!("malformed line: {line}"));
            continue;
        };
        let want = Level::parse(want.trim()).unwrap_or(Level::Destructive);
        let cmd = unescape(cmd);
        let got = c.classify(&cmd).level;
        if got != want {
            failures.push(format!("{cmd:?}: want {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Fixture escapes: `\n` newline, `\t` tab, `\\` backslash; other backslashes stay.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('t')) => {
                out.push('\t');
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Non-ASCII text once crashed the process inside tree-sitter-bash's C scanner (`isdigit`
/// on a code point above 255). These inputs come from proptest failures and real runbooks.
#[test]
fn non_ascii_text_is_classified_not_a_crash() {
    let c = sitrep_risk::Classifier::builtin();
    for script in [
        "echo \u{1F525} 1\u{0663}",
        "ls ${x:-\u{00E9}9}",
        "kubectl get pods -l app=caf\u{00E9} | grep \u{201C}Running\u{201D}",
        "rm -rf /tmp/\u{65E5}\u{672C}",
        "\u{0663}\u{0664} <<\u{00E9}\n\u{00E9}\n",
        // Found by the property test in CI: an unterminated heredoc whose error region ended
        // inside a three-byte character, so the reported span cut it in half.
        "A<<\u{1EE51} \"\"(\u{0AB2}\u{0985}",
        // Found by the property test; crashed tree-sitter-bash 0.25.1 before masking.
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/risk/crash-non-ascii.txt"
        )),
    ] {
        let risk = c.classify(script);
        for cmd in &risk.commands {
            assert_eq!(
                script.get(cmd.span.clone()),
                Some(cmd.text.as_str()),
                "{script:?}: bad span {:?}",
                cmd.span
            );
        }
    }
    assert_eq!(
        c.classify("rm -rf /tmp/\u{65E5}\u{672C}").level,
        sitrep_risk::Level::Destructive
    );
    assert_eq!(
        c.classify("ls /srv/caf\u{00E9}").level,
        sitrep_risk::Level::Read
    );
}
