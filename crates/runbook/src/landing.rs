//! Where a placeholder's value lands in its command: after a `--` (so a leading `-`
//! cannot make it an option), and inside text a second parser reads again (`sh -c`,
//! eval, ssh, awk/sed/SQL programs...), found by classifying a copy of the script with
//! every placeholder replaced by [`VALUE_MARKER`]. Pure.

use std::ops::Range;

use sitrep_risk::{Classifier, CommandRisk, Reason, ScriptRisk, VALUE_MARKER, VALUE_REREAD_RULE};

use crate::model::Placeholder;
use crate::script::{self, RawCommand};

/// A step's placeholders (spans mapped to the original text by `to_orig`) and every
/// occurrence's range in the script, in order.
pub(crate) fn placeholders(
    script: &str,
    cmds: &[RawCommand],
    to_orig: impl Fn(&Range<usize>) -> Range<usize>,
) -> (Vec<Placeholder>, Vec<Range<usize>>) {
    let mut out: Vec<Placeholder> = Vec::new();
    let mut places = Vec::new();
    for (name, syntax, r) in script::placeholders(script, cmds) {
        let dash = after_double_dash(script, cmds, r.start);
        let s = to_orig(&r);
        places.push(r);
        match out.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                p.spans.push(s);
                p.after_double_dash &= dash;
            }
            None => out.push(Placeholder {
                name,
                syntax,
                spans: vec![s],
                after_double_dash: dash,
                prose: None,
            }),
        }
    }
    (out, places)
}

/// A step's risk with spans in the original text: the script's own classification,
/// raised by where its placeholders land ([`raise`]); only steps with placeholders pay
/// for the second classification.
pub(crate) fn step_risk(
    classifier: &Classifier,
    script: &str,
    places: &[Range<usize>],
    to_orig: impl Fn(&Range<usize>) -> Range<usize>,
) -> ScriptRisk {
    let mut risk = classifier.classify(script);
    raise(classifier, script, places, &mut risk);
    for cr in &mut risk.commands {
        cr.span = to_orig(&cr.span);
    }
    risk
}

/// Whether the placeholder at `pos` follows a `--` word in its command (same simple
/// command: a `|`, `;`, `&`, `(`, backquote or unescaped newline ends the search).
/// When unsure, `false`: that only refuses more values.
pub(crate) fn after_double_dash(script: &str, cmds: &[RawCommand], pos: usize) -> bool {
    let Some(cmd) = cmds
        .iter()
        .find(|c| c.range.start <= pos && pos < c.range.end)
    else {
        return false;
    };
    let in_heredoc = cmd
        .lines
        .iter()
        .any(|(r, heredoc)| *heredoc && r.start <= pos && pos < r.end);
    let Some(before) = script.get(cmd.range.start..pos) else {
        return false;
    };
    if in_heredoc {
        return false;
    }
    let b = before.as_bytes();
    let cut = (0..b.len())
        .rev()
        .find(|&i| match b[i] {
            b'|' | b';' | b'&' | b'(' | b'`' => true,
            b'\n' => i == 0 || b[i - 1] != b'\\',
            _ => false,
        })
        .map_or(0, |i| i + 1);
    before.get(cut..).unwrap_or("").split_whitespace().any(|w| {
        let w = w.trim_matches(['"', '\'']);
        w == "--"
    })
}

/// The script with each placeholder occurrence replaced by [`VALUE_MARKER`], and where
/// each replacement sits, to map offsets back.
struct Marked {
    text: String,
    /// `(start in text, start in script, length in script)`, in order.
    subs: Vec<(usize, usize, usize)>,
}

impl Marked {
    fn new(script: &str, places: &[Range<usize>]) -> Marked {
        let mut sorted: Vec<&Range<usize>> = places.iter().collect();
        sorted.sort_by_key(|r| r.start);
        let mut text = String::with_capacity(script.len() + 16 * places.len());
        let mut subs = Vec::with_capacity(places.len());
        let mut at = 0;
        for r in sorted {
            // Overlapping or out-of-range occurrences are left as written.
            let (Some(keep), true) = (script.get(at..r.start), script.get(r.clone()).is_some())
            else {
                continue;
            };
            text.push_str(keep);
            subs.push((text.len(), r.start, r.len()));
            text.push_str(VALUE_MARKER);
            at = r.end;
        }
        text.push_str(script.get(at..).unwrap_or(""));
        Marked { text, subs }
    }

    /// A marked offset in script coordinates; inside a marker, the placeholder's start
    /// (`end == false`) or end (`end == true`).
    fn to_script(&self, off: usize, end: bool) -> usize {
        let i = self.subs.partition_point(|&(m, _, _)| m <= off);
        let Some(&(m, s, len)) = i.checked_sub(1).and_then(|i| self.subs.get(i)) else {
            return off;
        };
        let m_end = m + VALUE_MARKER.len();
        if off == m {
            s
        } else if off < m_end {
            if end { s + len } else { s }
        } else {
            s + len + (off - m_end)
        }
    }

    fn range_to_script(&self, r: &Range<usize>) -> Range<usize> {
        let start = self.to_script(r.start, false);
        start..self.to_script(r.end, true).max(start)
    }

    /// A reason's `matched` text with the placeholders as written, when it can be found.
    fn restore(&self, script: &str, within: &Range<usize>, matched: &str) -> Option<String> {
        if !matched.contains(VALUE_MARKER) {
            return None;
        }
        let scope = self.text.get(within.clone())?;
        let at = within.start + scope.find(matched)?;
        let r = self.range_to_script(&(at..at + matched.len()));
        script.get(r).map(str::to_string)
    }
}

/// Raises `risk` (in `script` coordinates) with what the classifier finds when each of
/// `places` holds an outside value: the marked copy's commands are matched to `risk`'s
/// (same span, else the command containing it, else a new whole-step entry), and their
/// `value-reread` reasons, plus any reason asking for more than the command had, are
/// added. Never lowers anything.
pub(crate) fn raise(
    classifier: &Classifier,
    script: &str,
    places: &[Range<usize>],
    risk: &mut ScriptRisk,
) {
    if places.is_empty() {
        return;
    }
    let marked = Marked::new(script, places);
    let found = classifier.classify(&marked.text);
    for (i, mc) in found.commands.into_iter().enumerate() {
        let span = marked.range_to_script(&mc.span);
        let target = target(risk, i, &span);
        let had = target.map_or(sitrep_risk::Level::Read, |t| risk.commands[t].level);
        if mc.level <= had && !mc.reasons.iter().any(|r| r.rule == VALUE_REREAD_RULE) {
            continue;
        }
        let extra: Vec<Reason> = mc
            .reasons
            .into_iter()
            .filter(|r| r.rule == VALUE_REREAD_RULE || r.level > had)
            .map(|mut r| {
                if let Some(m) = marked.restore(script, &mc.span, &r.matched) {
                    r.matched = m;
                }
                r
            })
            .collect();
        let cr = match target {
            Some(t) => &mut risk.commands[t],
            None => {
                risk.commands.push(CommandRisk {
                    text: script.to_string(),
                    span: 0..script.len(),
                    level: mc.level,
                    reasons: Vec::new(),
                });
                let last = risk.commands.len() - 1;
                &mut risk.commands[last]
            }
        };
        cr.level = cr.level.max(mc.level);
        for r in extra {
            if !cr.reasons.contains(&r) {
                cr.reasons.push(r);
            }
        }
    }
    risk.level = risk.level.max(found.level);
    if let Some(top) = risk.commands.iter().map(|c| c.level).max() {
        risk.level = risk.level.max(top);
    }
}

/// The command of `risk` that the marked copy's `i`-th command (at `span`) stands for.
fn target(risk: &ScriptRisk, i: usize, span: &Range<usize>) -> Option<usize> {
    if risk.commands.get(i).is_some_and(|c| c.span == *span) {
        return Some(i);
    }
    risk.commands
        .iter()
        .position(|c| c.span == *span)
        .or_else(|| {
            risk.commands
                .iter()
                .position(|c| c.span.start <= span.start && span.start < c.span.end)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_offsets_map_back() {
        let script = "ssh $H \"x <id> y\"";
        let m = Marked::new(script, &[4..6, 10..14]);
        assert_eq!(m.text, format!("ssh {VALUE_MARKER} \"x {VALUE_MARKER} y\""));
        let mark = VALUE_MARKER.len();
        // Before, at, inside and after each marker.
        assert_eq!(m.to_script(2, false), 2);
        assert_eq!(m.to_script(4, false), 4);
        assert_eq!(m.to_script(4 + 3, false), 4);
        assert_eq!(m.to_script(4 + 3, true), 6);
        assert_eq!(m.to_script(4 + mark, true), 6);
        let second = 4 + mark + 4;
        assert_eq!(m.to_script(second, false), 10);
        assert_eq!(m.to_script(second + mark, false), 14);
        assert_eq!(m.to_script(m.text.len(), true), script.len());
        let quoted = 4 + mark + 1..m.text.len();
        assert_eq!(m.range_to_script(&quoted), 7..script.len());
        let restored = m.restore(script, &(0..m.text.len()), &format!("x {VALUE_MARKER} y"));
        assert_eq!(restored.as_deref(), Some("x <id> y"));
    }

    #[test]
    fn overlapping_or_outside_places_are_left_as_written() {
        let m = Marked::new("abcdef", &[1..3, 2..4, 9..12]);
        assert_eq!(m.text, format!("a{VALUE_MARKER}def"));
    }

    #[test]
    fn double_dash_before_the_placeholder() {
        let check = |script: &str, at: &str| {
            let cmds = script::commands(script);
            let pos = script.find(at).expect("placeholder in script");
            after_double_dash(script, &cmds, pos)
        };
        assert!(check("grep -e x -- \"$F\"", "$F"));
        assert!(check("rm -f '--' $F", "$F"));
        assert!(!check("grep -e x \"$F\" -- y", "$F"));
        assert!(!check("echo -- | grep $F", "$F"));
        assert!(!check("a -- ; b $F", "$F"));
        assert!(check("a -- \\\n  $F", "$F"));
    }

    #[test]
    fn unmatched_commands_raise_the_whole_step() {
        let c = Classifier::builtin();
        let script = "sh -c \"echo $X\"";
        let mut risk = c.classify(script);
        // Pretend the first classification found no commands: the marked finding must
        // still land somewhere, as a whole-step entry.
        risk.commands.clear();
        risk.level = sitrep_risk::Level::Read;
        let places = vec![script.find("$X").map_or(0..0, |i| i..i + 2)];
        raise(&c, script, &places, &mut risk);
        assert!(risk.level >= sitrep_risk::Level::Unknown);
        assert_eq!(risk.commands.len(), 1);
        assert_eq!(risk.commands[0].span, 0..script.len());
    }
}
