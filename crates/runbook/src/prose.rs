//! Placeholders written in prose inside an assignment:
//! `NODE_NAME='<value of instance label from alert>'`. The prose can never be a useful
//! value, so the step's script gets a real placeholder in its place: `<instance>` when
//! the text names an alert label (bound from that label at run time), else one named
//! after the variable (`<NODE_NAME>`). Pure.

use std::ops::Range;

use crate::script::RawCommand;

/// One prose value found in an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prose {
    /// The variable assigned.
    pub(crate) variable: String,
    /// The alert label the text names, if any.
    pub(crate) label: Option<String>,
    /// The `<...>` as written.
    pub(crate) text: String,
    /// Where the `<...>` sits in the script.
    pub(crate) range: Range<usize>,
}

impl Prose {
    /// The placeholder name that replaces it.
    pub(crate) fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.variable)
    }
}

/// Prose values in the assignments of a script's command lines (not heredoc bodies).
pub(crate) fn find(script: &str, cmds: &[RawCommand]) -> Vec<Prose> {
    let mut out = Vec::new();
    // Most scripts have no `=<`, `='<` or `="<` at all: skip the line scan.
    if !["=<", "='<", "=\"<"].iter().any(|p| script.contains(p)) {
        return out;
    }
    for c in cmds {
        for (r, heredoc) in &c.lines {
            if *heredoc {
                continue;
            }
            let Some(line) = script.get(r.clone()) else {
                continue;
            };
            scan(line, r.start, &mut out);
        }
    }
    out
}

fn is_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Finds `NAME=<prose>`, `NAME='<prose>'` and `NAME="<prose>"` in one line.
fn scan(line: &str, base: usize, out: &mut Vec<Prose>) {
    let b = line.as_bytes();
    for (eq, _) in line.match_indices('=') {
        let start = (0..eq).rev().find(|&i| !is_name(b[i])).map_or(0, |i| i + 1);
        let var = line.get(start..eq).unwrap_or("");
        if var.is_empty() || b[start].is_ascii_digit() || !assignment_position(line, start) {
            continue;
        }
        let quote = b.get(eq + 1).copied().filter(|q| *q == b'\'' || *q == b'"');
        let open = eq + 1 + usize::from(quote.is_some());
        if b.get(open) != Some(&b'<') {
            continue;
        }
        let Some(close) = line.get(open..).and_then(|r| r.find('>')).map(|i| open + i) else {
            continue;
        };
        let after = b.get(close + 1).copied();
        let ends = match quote {
            Some(q) => after == Some(q),
            None => after.is_none_or(|c| matches!(c, b' ' | b'\t' | b';')),
        };
        let inner = line.get(open + 1..close).unwrap_or("");
        // `<name>` is already a placeholder; prose has words in it.
        // What the shell would read as something else inside the quotes (or without any).
        let special: &[char] = match quote {
            Some(b'\'') => &['\''],
            Some(_) => &['"', '$', '`', '\\'],
            None => &['\'', '"', '$', '`', '\\', ';', '&', '|', '(', ')'],
        };
        if !ends || !inner.contains(' ') || inner.contains('<') || inner.contains(special) {
            continue;
        }
        out.push(Prose {
            variable: var.to_string(),
            label: label_named(inner),
            text: line.get(open..=close).unwrap_or("").to_string(),
            range: base + open..base + close + 1,
        });
    }
}

/// Whether a word starting at `start` is where an assignment can be: first in its
/// command, or after `export`/`local`/`readonly`/`declare`/`env` and other assignments.
fn assignment_position(line: &str, start: usize) -> bool {
    let before = line.get(..start).unwrap_or("");
    if !before.is_empty() && !before.ends_with([' ', '\t', ';', '&', '|']) {
        return false;
    }
    let cmd = before.rsplit([';', '&', '|']).next().unwrap_or("");
    cmd.split_whitespace().all(|w| {
        matches!(
            w,
            "export" | "local" | "readonly" | "declare" | "typeset" | "env"
        ) || w.split_once('=').is_some_and(|(n, _)| {
            !n.is_empty() && n.bytes().all(is_name) && !n.as_bytes()[0].is_ascii_digit()
        })
    })
}

/// The alert label a text names: `instance label`, `label instance`, `` label `pod` ``,
/// `$labels.instance`, `labels.namespace`.
fn label_named(text: &str) -> Option<String> {
    const FILLER: &[&str] = &[
        "the",
        "a",
        "an",
        "of",
        "from",
        "alert",
        "alerts",
        "alert's",
        "value",
        "in",
        "on",
        "its",
        "this",
        "that",
        "with",
        "firing",
        "prometheus",
        "label",
        "labels",
    ];
    let valid = |w: &str| {
        let w = w.trim_matches(|c: char| "`'\"(),.:".contains(c));
        let ok = w
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !FILLER.contains(&w.to_ascii_lowercase().as_str());
        ok.then(|| w.to_string())
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    for w in &words {
        if let Some((_, l)) = w.split_once("labels.") {
            return valid(l);
        }
    }
    let i = words.iter().position(|w| w.eq_ignore_ascii_case("label"))?;
    // `instance label`, `label instance`, then `namespace from the alert's label`: the
    // nearest word before it across at most three filler words.
    let before = |n: usize| {
        i.checked_sub(n)
            .and_then(|j| words.get(j))
            .and_then(|w| valid(w))
    };
    const SKIP: &[&str] = &["from", "the", "alert's", "alert", "alerts", "of", "firing"];
    let skipped = |n: usize| {
        (1..n).all(|k| {
            i.checked_sub(k)
                .and_then(|j| words.get(j))
                .is_some_and(|w| SKIP.contains(&w.to_ascii_lowercase().as_str()))
        })
    };
    before(1)
        .or_else(|| words.get(i + 1).and_then(|w| valid(w)))
        .or_else(|| (2..=5).filter(|&n| skipped(n)).find_map(before))
}

/// The script with each prose value replaced by its placeholder, and the pieces mapping
/// the new script's offsets to the old one's: `(new offset, old offset, length)`.
pub(crate) fn rewrite(script: &str, found: &[Prose]) -> (String, Vec<(usize, usize, usize)>) {
    let mut out = String::with_capacity(script.len());
    let mut pieces = Vec::new();
    let mut at = 0;
    for p in found {
        let Some(keep) = script.get(at..p.range.start) else {
            continue;
        };
        pieces.push((out.len(), at, keep.len()));
        out.push_str(keep);
        out.push('<');
        out.push_str(p.name());
        out.push('>');
        at = p.range.end;
    }
    let rest = script.get(at..).unwrap_or("");
    pieces.push((out.len(), at, rest.len()));
    out.push_str(rest);
    (out, pieces)
}

/// An offset of the old script in the rewritten one (for offsets outside the prose).
pub(crate) fn remap(pieces: &[(usize, usize, usize)], old: usize) -> usize {
    pieces
        .iter()
        .find(|(_, o, len)| *o <= old && old < o + len)
        .map_or(old, |(n, o, _)| n + (old - o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(script: &str) -> Vec<(String, Option<String>)> {
        let cmds = crate::script::commands(script);
        find(script, &cmds)
            .into_iter()
            .map(|p| (p.variable, p.label))
            .collect()
    }

    #[test]
    fn prose_values_and_their_labels() {
        let s =
            "NODE_NAME='<value of instance label from alert>'\nkubectl describe node $NODE_NAME";
        assert_eq!(
            found(s),
            [("NODE_NAME".to_string(), Some("instance".to_string()))]
        );
        assert_eq!(
            found("export NS=\"<namespace from the alert's label>\""),
            [("NS".to_string(), Some("namespace".to_string()))]
        );
        assert_eq!(
            found("POD=<the pod that is crash looping>"),
            [("POD".to_string(), None)]
        );
        assert_eq!(
            found("J='<see $labels.job in the alert>'"),
            [("J".to_string(), Some("job".to_string()))]
        );
        assert_eq!(
            found("J=\"<see $labels.job>\""),
            Vec::<(String, Option<String>)>::new(),
            "in double quotes `$labels` is an expansion, not prose"
        );
        assert_eq!(
            found("N='<name of the node shown in the alert label>'"),
            [("N".to_string(), None)],
            "only filler words may sit between the label's name and `label`"
        );
        assert_eq!(
            found("A=1 B='<the job label>'; echo"),
            [("B".to_string(), Some("job".to_string()))]
        );
        assert_eq!(
            found("X='<label `pod` of the alert>'"),
            [("X".to_string(), Some("pod".to_string()))]
        );
    }

    #[test]
    fn not_prose() {
        for s in [
            "NAME=<name>",
            "A=1 <file",
            "cat <<EOF\nX='<a b>'\nEOF",
            "echo a=<b c>",
            "X='<a b> c'",
            "kubectl set env deploy/x A=<b c>",
        ] {
            assert_eq!(found(s), Vec::<(String, Option<String>)>::new(), "{s}");
        }
    }

    #[test]
    fn rewrite_puts_the_placeholder_in_place() {
        let s = "NODE='<value of instance label>'\necho $NODE";
        let cmds = crate::script::commands(s);
        let (t, pieces) = rewrite(s, &find(s, &cmds));
        assert_eq!(t, "NODE='<instance>'\necho $NODE");
        assert_eq!(pieces, [(0, 0, 6), (16, 31, 12)]);
    }
}
