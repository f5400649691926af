//! Matchers, both sides: which values `Matcher::new` and `parse_matcher` refuse and with
//! which error, and that the ones they accept compare whole values and round-trip
//! through `Display`.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sitrep_alerts::{MatchOp, Matcher, parse_matcher, parse_matchers};

fn one(name: &str, value: &str) -> BTreeMap<String, String> {
    [(name.to_owned(), value.to_owned())].into_iter().collect()
}

fn op_text(op: MatchOp) -> &'static str {
    match op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Regex => "=~",
        MatchOp::NotRegex => "!~",
    }
}

fn arb_name() -> impl Strategy<Value = String> {
    // Plain names and names that need quoting (spaces, dashes, unicode).
    prop_oneof!["[a-zA-Z_][a-zA-Z0-9_.]{0,10}", "[^\"\\\\]{1,6}"]
}

/// The matcher prints to text that parses back to it, alone and in a list.
fn round_trips(m: &Matcher) -> Result<(), TestCaseError> {
    let text = m.to_string();
    let parsed = parse_matcher(&text);
    prop_assert_eq!(parsed.as_ref(), Ok(m), "{}", text);
    let list = format!("{{{m}, {m}}}");
    prop_assert_eq!(parse_matchers(&list), Ok(vec![m.clone(), m.clone()]));
    Ok(())
}

/// Regexes that are broken wherever they appear in a value, each with the start of what
/// the regex crate says (so the error is the regex's, not some other refusal).
const BROKEN: &[&str] = &[
    "(",
    ")",
    "[",
    "[z-a]",
    "a{2,1}",
    r"\p{Nope}",
    "(?P<",
    "(?z)",
    r"\",
    ")(",
    "a)|(b",
];

proptest! {
    /// `=` and `!=` take any value; they compare the whole value, a missing label being "".
    #[test]
    fn equality_matchers_accept_any_value_and_compare_whole_values(
        name in arb_name(), value in "\\PC{0,12}|[ -~\n\t]{0,12}",
        equal in any::<bool>(), extra in "[a-z]{1,3}",
    ) {
        let op = if equal { MatchOp::Equal } else { MatchOp::NotEqual };
        let m = Matcher::new(&name, op, &value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(m.matches(&one(&name, &value)), equal);
        prop_assert_eq!(m.matches(&one(&name, &format!("{value}{extra}"))), !equal);
        prop_assert_eq!(m.matches(&one(&format!("{name}{extra}"), &value)), equal == value.is_empty());
        round_trips(&m)?;
    }

    /// `=~` and `!~` are anchored at both ends: junk before or after a matching value
    /// makes it not match, and `!~` is exactly the complement.
    #[test]
    fn regex_matchers_match_whole_values_only(
        name in arb_name(), lit in "\\PC{0,8}", tail in "[a-z]{1,3}", negated in any::<bool>(),
    ) {
        let op = if negated { MatchOp::NotRegex } else { MatchOp::Regex };
        let pattern = format!("{}(-[a-z]+)?", regex::escape(&lit));
        let m = Matcher::new(&name, op, &pattern).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (value, whole) in [
            (lit.clone(), true),
            (format!("{lit}-{tail}"), true),
            (format!("{tail}{lit}"), false),
            (format!("{lit}{tail}"), false),
            (format!("{lit}-{tail}!"), false),
        ] {
            prop_assert_eq!(m.matches(&one(&name, &value)), whole != negated, "{:?}", value);
        }
        round_trips(&m)?;
    }

    /// Broken regexes are refused by `Matcher::new` (position 0) and by `parse_matcher`
    /// (position of the value), with the regex crate's message; the same text is a fine
    /// `=` value, so the refusal is about the regex only.
    #[test]
    fn invalid_regexes_are_refused_with_the_regex_error(
        name in "[a-z_]{1,8}", lit in "[a-z]{0,4}", broken in proptest::sample::select(BROKEN),
        before in any::<bool>(), negated in any::<bool>(),
    ) {
        // A trailing backslash escapes what follows it (`\a` is a valid escape).
        let before = before && broken != r"\";
        let value = if before { format!("{broken}{lit}") } else { format!("{lit}{broken}") };
        let op = if negated { MatchOp::NotRegex } else { MatchOp::Regex };
        let err = Matcher::new(&name, op, &value).map(|m| m.to_string());
        let err = err.err().ok_or_else(|| TestCaseError::fail(format!("accepted {value:?}")))?;
        prop_assert_eq!(err.position, 0);
        prop_assert!(err.message.starts_with("bad regex: "), "{}", err.message);
        let quoted = serde_json::to_string(&value).unwrap_or_default();
        let text = format!("{name}{}{quoted}", op_text(op));
        let parsed = parse_matcher(&text).map(|m| m.to_string());
        let parsed = parsed.err().ok_or_else(|| TestCaseError::fail(format!("parsed {text}")))?;
        prop_assert_eq!(parsed.position, name.len() + op_text(op).len(), "{}", text);
        prop_assert!(parsed.message.starts_with("bad regex: "), "{}", parsed.message);
        prop_assert!(Matcher::new(&name, MatchOp::Equal, &value).is_ok());
    }

    /// Whatever regex is accepted is a regex on its own, so the anchors wrap all of it:
    /// `a)|(b` would otherwise become `^(?:a)|(b)$` and match any value starting with `a`.
    #[test]
    fn accepted_regexes_stand_alone(value in "[ab().|*?]{0,8}") {
        if Matcher::new("x", MatchOp::Regex, &value).is_ok() {
            prop_assert!(regex::Regex::new(&value).is_ok(), "accepted {:?}", value);
        }
    }

    /// Every operator refuses an empty label name, at position 0.
    #[test]
    fn empty_names_are_refused(value in "[a-z]{0,4}", op in proptest::sample::select(vec![
        MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex,
    ])) {
        let err = Matcher::new("", op, &value).map(|m| m.to_string()).err();
        prop_assert_eq!(err.map(|e| (e.position, e.message)), Some((0, "empty label name".to_owned())));
    }
}

#[test]
fn a_regex_cannot_escape_its_anchors() {
    let escaped = Matcher::new("instance", MatchOp::Regex, "a)|(b");
    assert!(escaped.is_err(), "{escaped:?}");
    let m = Matcher::new("instance", MatchOp::Regex, "db-1|db-2").expect("valid");
    assert!(m.matches(&one("instance", "db-2")));
    assert!(
        !m.matches(&one("instance", "db-10")),
        "alternation is anchored too"
    );
}
