//! The regex budget of silences (issue 21, point 4): one regex compiles to at most
//! `MAX_REGEX_BYTES`, and one silence is refused while it is parsed once it has too many
//! matchers, too many regexes or too many compiled bytes, so no silence (a stored one
//! read at start included) can cost more than that.

use sitrep_alerts::{
    MAX_REGEX_BYTES, MAX_SILENCE_MATCHERS, MAX_SILENCE_REGEXES, Silence, parse_matcher,
};

fn silence(matchers: &[String]) -> Result<Silence, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "id": "s1",
        "matchers": matchers,
        "starts_at": "2026-11-22T22:00:00Z",
        "ends_at": "2026-11-23T02:00:00Z",
        "created_by": "ops",
    }))
}

#[test]
fn a_huge_regex_is_refused_by_name_and_ordinary_ones_are_small() {
    let e = parse_matcher(r#"instance=~"\w{20}""#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("compiles to more than 256 KiB"), "{e}");
    for ok in [
        r#"alertname=~"Db.*|Api.*""#,
        r#"x=~"(?-u:\w){20}""#,
        r#"s!~"eu-[0-9]+""#,
    ] {
        let m = parse_matcher(ok).unwrap();
        let bytes = m.regex_bytes();
        println!("{ok}: {bytes} bytes");
        assert!(bytes > 0 && bytes < MAX_REGEX_BYTES, "{ok}: {bytes}");
    }
    assert_eq!(parse_matcher(r#"a="b""#).unwrap().regex_bytes(), 0);
}

#[test]
fn a_silence_over_its_caps_is_refused_while_parsing() {
    let regex = |i: usize| format!(r#"l{i}=~"v{i}.*""#);
    let fits: Vec<String> = (0..MAX_SILENCE_REGEXES).map(regex).collect();
    let s = silence(&fits).unwrap();
    assert_eq!(s.regex_cost().regexes, MAX_SILENCE_REGEXES);
    let over: Vec<String> = (0..=MAX_SILENCE_REGEXES).map(regex).collect();
    let e = silence(&over).unwrap_err().to_string();
    assert!(
        e.contains("17 regex matchers; a silence may have at most 16"),
        "{e}"
    );
    let plain: Vec<String> = (0..=MAX_SILENCE_MATCHERS)
        .map(|i| format!(r#"l{i}="v""#))
        .collect();
    let e = silence(&plain).unwrap_err().to_string();
    assert!(e.contains("65 matchers"), "{e}");
    // The probe's body: 1,000 `\w{20}` matchers. Refused at the first.
    let probe: Vec<String> = (0..1000).map(|i| format!(r#"l{i}=~"\w{{20}}""#)).collect();
    let e = silence(&probe).unwrap_err().to_string();
    assert!(e.contains("compiles to more than"), "{e}");
}
