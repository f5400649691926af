//! Options and positional forms with side effects: the rule table's option rows applied to
//! tools that handlers classify, and tools whose positional words change state (`date`,
//! `uniq`).

use super::{Outcome, reason};
use crate::{Classifier, Level, table};

/// Adds the rule table's side-effect option rows (`unknown ssh -o=ProxyCommand*`) that match
/// `words` to a handler's outcome, so a handler never hides an option the table knows.
pub(super) fn with_side_effect_options(c: &Classifier, words: &[String], o: Outcome) -> Outcome {
    let rows = table::side_effect_options(&c.builtin, words);
    if rows.is_empty() {
        return o;
    }
    let mut reasons = o.reasons;
    let matched = words.join(" ");
    for r in rows {
        if !reasons.iter().any(|x| x.rule == r.name) {
            reasons.push(reason(&r.name, &matched, r.level));
        }
    }
    Outcome::new(reasons)
}

/// `date` prints the time; `-s`/`--set` (a table row) and a positional `MMDDhhmm[[CC]YY]`
/// set the clock. `+FORMAT` is output format.
pub(super) fn date(words: &[String]) -> Outcome {
    let with_value = [
        "-d",
        "--date",
        "-r",
        "--reference",
        "-f",
        "--file",
        "-s",
        "--set",
    ];
    let mut reasons = vec![reason("date", "date", Level::Read)];
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if with_value.contains(&w.as_str()) {
            i += 1;
        } else if !w.starts_with('-') && !w.starts_with('+') {
            reasons.push(reason("date sets the clock", w, Level::Write));
        }
        i += 1;
    }
    Outcome::new(reasons)
}

/// `uniq [INPUT [OUTPUT]]`: a second positional word is a file it writes.
pub(super) fn uniq(words: &[String]) -> Outcome {
    let with_value = [
        "-f",
        "-s",
        "-w",
        "--skip-fields",
        "--skip-chars",
        "--check-chars",
    ];
    let mut positional = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if with_value.contains(&w.as_str()) {
            i += 1;
        } else if !w.starts_with('-') || w == "-" {
            positional.push(w);
        }
        i += 1;
    }
    let mut reasons = vec![reason("uniq", "uniq", Level::Read)];
    if let Some(out) = positional.get(1).filter(|o| !is_std_stream(o)) {
        reasons.push(reason("uniq OUTPUT file", out, Level::Write));
    }
    Outcome::new(reasons)
}

fn is_std_stream(w: &str) -> bool {
    matches!(w, "-" | "/dev/null" | "/dev/stdout" | "/dev/stderr")
}
