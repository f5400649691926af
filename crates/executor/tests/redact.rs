//! The redactor as a whole against the case table (`tests/data/executor/redact/cases.tsv`):
//! every pattern row has a redacted and an untouched example, every case gives exactly its
//! expected output, fed whole or in small chunks, and short literals cannot spell out
//! where a secret sits.

use std::collections::BTreeSet;

use sitrep_executor::Redactor;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/executor/redact"
);
const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/redact/patterns.tsv");

struct Case {
    row: String,
    input: String,
    want: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(format!("{DATA}/cases.tsv")).expect("cases.tsv");
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "cases.tsv: bad line {line:?}");
        let input = f[1].replace("\\n", "\n");
        let want = if f[2] == "=" {
            input.clone()
        } else {
            f[2].replace("\\n", "\n")
        };
        out.push(Case {
            row: f[0].to_owned(),
            input,
            want,
        });
    }
    out
}

/// `(name, kind)` of every row of the pattern table.
fn table_rows() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(TABLE).expect("patterns.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let name = f.next().unwrap_or_default().to_owned();
            (name, f.next().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn every_pattern_row_has_a_redacted_and_an_untouched_case() {
    let cases = cases();
    let rows = table_rows();
    assert!(rows.len() >= 18, "{} rows", rows.len());
    for (name, kind) in &rows {
        let mine: Vec<&Case> = cases.iter().filter(|c| &c.row == name).collect();
        let mark = format!("[REDACTED:{kind}]");
        // Positive: the expected output holds the row's mark; negative: it does not (the
        // unit tests check that the row alone redacts the one and spares the other).
        assert!(
            mine.iter().any(|c| c.want.contains(&mark)),
            "row {name}: no case where it redacts (add one to cases.tsv)"
        );
        assert!(
            mine.iter().any(|c| !c.want.contains(&mark)),
            "row {name}: no case it leaves alone (add one to cases.tsv)"
        );
    }
    let known: BTreeSet<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    for c in &cases {
        assert!(
            known.contains(c.row.as_str()) || c.row == "-" || c.row == "private-key",
            "cases.tsv names an unknown row {:?}",
            c.row
        );
    }
}

#[test]
fn every_case_gives_its_expected_output() {
    let r = Redactor::new(&[]);
    for c in cases() {
        assert_eq!(
            r.redact_text(&c.input),
            c.want,
            "row {}: {:?}",
            c.row,
            c.input
        );
    }
}

#[test]
fn streaming_in_small_chunks_gives_the_same_output() {
    // All cases as one stream, fed 7 bytes at a time: lines are only redacted whole, so
    // chunk edges never split a secret.
    let cases = cases();
    let input: String = cases.iter().map(|c| format!("{}\n", c.input)).collect();
    let want: String = cases.iter().map(|c| format!("{}\n", c.want)).collect();
    let mut s = Redactor::new(&[]).stream(64 << 10);
    let mut out = Vec::new();
    for chunk in input.as_bytes().chunks(7) {
        out.extend(s.push(chunk));
    }
    out.extend(s.finish());
    assert_eq!(String::from_utf8(out).expect("utf-8"), want);
}

#[test]
fn the_line_fixtures_still_pass() {
    let r = Redactor::new(&[]);
    let mut n = 0;
    for entry in std::fs::read_dir(DATA).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "in") {
            let input = std::fs::read_to_string(&path).expect("read in");
            let want = std::fs::read_to_string(path.with_extension("out")).expect("read out");
            assert_eq!(r.redact_text(&input), want, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 5, "only {n} fixtures");
}

#[test]
fn a_short_literal_is_masked_only_as_a_whole_token() {
    let r = Redactor::new(&["a".to_owned(), "x9z".to_owned()]);
    // Inside words nothing is masked, so the masks cannot spell out the secret's place.
    assert_eq!(r.redact_text("banana cabana"), "banana cabana");
    assert_eq!(r.redact_text("pin: a."), "pin: [REDACTED:param].");
    assert_eq!(r.redact_text("x9zx9z x9z"), "x9zx9z [REDACTED:param]");
    assert_eq!(Redactor::MIN_LITERAL_CHARS, 4);
}

#[test]
fn a_long_literal_is_masked_everywhere_and_before_the_patterns() {
    let secret = "sw0rdf1sh-and-chips";
    let r = Redactor::new(&[secret.to_owned(), "sw0rd".to_owned()]);
    assert_eq!(
        r.redact_text(&format!("x{secret}y sw0rdy token={secret}")),
        "x[REDACTED:param]y [REDACTED:param]y token=[REDACTED:param]"
    );
}
