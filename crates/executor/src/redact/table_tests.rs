//! Unit tests of the pattern table: it parses, and each row on its own does what its
//! cases in `tests/data/executor/redact/cases.tsv` say (the whole redactor is checked by
//! `crates/executor/tests/redact.rs`).

use super::*;

const CASES: &str = include_str!("../../../../tests/data/executor/redact/cases.tsv");

/// `(row, input, expected)` with `\n` unescaped and `=` expanded to the input.
fn cases() -> Vec<(&'static str, String, String)> {
    CASES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "bad case line {l:?}");
            let input = f[1].replace("\\n", "\n");
            let want = if f[2] == "=" {
                input.clone()
            } else {
                f[2].replace("\\n", "\n")
            };
            (f[0], input, want)
        })
        .collect()
}

#[test]
fn the_table_parses_and_every_row_compiles() {
    let rows = parse(PATTERNS_TSV).expect("patterns.tsv");
    assert!(rows.len() >= 18, "{} rows", rows.len());
    assert_eq!(rows.len(), super::rows().len());
}

#[test]
fn malformed_rows_are_errors_naming_their_line() {
    let e = parse("# c\nx\tk\tv\t-\t(").unwrap_err();
    assert!(e.starts_with("patterns.tsv:2: x:"), "{e}");
    let e = parse("x\tk\tw\t-\t(?P<v>a)").unwrap_err();
    assert!(e.contains("no group"), "{e}");
    let e = parse("x\tk\t0\tfuzzy\ta").unwrap_err();
    assert!(e.contains("unknown check"), "{e}");
    let e = parse("x\tk\t0\t-\ta\nx\tk\t0\t-\tb").unwrap_err();
    assert!(e.contains("duplicate name x"), "{e}");
}

#[test]
fn each_row_alone_redacts_its_positive_cases_and_spares_its_negative_ones() {
    for (name, input, want) in cases() {
        let Some(row) = rows().iter().find(|r| r.name == name) else {
            continue;
        };
        // A case is the row's positive case when the expected output holds its mark.
        let mark = format!("[REDACTED:{}]", row.kind);
        let alone = apply(row, input.as_bytes());
        if want.contains(&mark) {
            let out = String::from_utf8(alone.unwrap_or_default()).expect("utf-8");
            assert!(
                out.contains(&mark),
                "{name} alone left {input:?} as {out:?}"
            );
        } else {
            assert!(alone.is_none(), "{name} redacted {input:?}");
        }
    }
}

#[test]
fn the_prefilter_changes_nothing() {
    // Every case, and all of them as one block: the set-filtered pass equals applying
    // every row in order.
    let mut all: Vec<String> = cases().into_iter().map(|(_, i, _)| i).collect();
    all.push(all.join("\n"));
    for input in all {
        let mut slow = input.as_bytes().to_vec();
        for row in rows() {
            slow = apply(row, &slow).unwrap_or(slow);
        }
        assert_eq!(apply_all(input.as_bytes()), slow, "{input:?}");
    }
}

#[test]
fn randomness_separates_generated_values_from_names_and_paths() {
    for v in [
        "Pk8zhN0M5HtJ0Lm5eSgfQkpDggOkymLzkR9KjL_r9eY",
        "V+smXZB1VKJzU+W1SHn5SfQo",
        "f7befc80a21aa282a9d43e8207d6fa89",
        "k3j9x0q7m2p8w4z1r6t5y0u",
    ] {
        assert!(looks_random(v.as_bytes()), "{v}");
    }
    for v in [
        "kubernetes-service-account",
        "web-frontend-2024-11-22",
        "/home/deploy/.ssh/id_ed25519_production",
        "short1A",
        "ALLUPPERCASEWORDSONLYHERE",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
    ] {
        assert!(!looks_random(v.as_bytes()), "{v}");
    }
}

#[test]
fn only_named_hex_digests_are_digests() {
    let sha256 = b"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    assert!(is_named_digest(b"token_SHA256", sha256));
    assert!(is_named_digest(b"api-key-checksum", &sha256[..40]));
    assert!(!is_named_digest(b"api_key", sha256));
    assert!(!is_named_digest(b"key_hash", &sha256[..32]));
}
