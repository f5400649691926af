//! Recovery of pages that lost their Markdown (headings as bare lines, commands as bare
//! lines, list markers flattened): re-inserts the markup a person reading the page would
//! assume, mapped back to the original bytes, and says what was guessed.

use std::ops::Range;

use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::model::Role;
use crate::source::{Builder, SourceMap, line_ranges, line_text};
use crate::walk::Recovered;

/// First words that make a bare line a shell command.
const COMMANDS: &[&str] = &[
    "awk",
    "aws",
    "cat",
    "cd",
    "chmod",
    "chown",
    "cp",
    "curl",
    "date",
    "dd",
    "df",
    "dig",
    "dmesg",
    "docker",
    "du",
    "echo",
    "export",
    "find",
    "free",
    "gcloud",
    "git",
    "grep",
    "gzip",
    "head",
    "helm",
    "host",
    "ip",
    "iostat",
    "iptables",
    "jq",
    "journalctl",
    "kill",
    "kubectl",
    "less",
    "ln",
    "ls",
    "lsof",
    "mkdir",
    "mount",
    "mv",
    "mysql",
    "nc",
    "netstat",
    "nslookup",
    "openssl",
    "ping",
    "ps",
    "psql",
    "redis-cli",
    "rm",
    "rsync",
    "scp",
    "sed",
    "sha256sum",
    "sort",
    "sqlite3",
    "ss",
    "ssh",
    "stat",
    "sudo",
    "systemctl",
    "tail",
    "tar",
    "tcpdump",
    "tee",
    "top",
    "touch",
    "traceroute",
    "uptime",
    "vmstat",
    "wc",
    "wget",
    "xargs",
];

fn first_word(t: &str) -> &str {
    t.split_whitespace().next().unwrap_or("")
}

fn is_assignment(t: &str) -> bool {
    let t = t.strip_prefix("export ").unwrap_or(t);
    let name: String = t
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    !name.is_empty()
        && name.starts_with(|c: char| !c.is_ascii_digit())
        && t.get(name.len()..).is_some_and(|r| r.starts_with('='))
}

fn is_shell_line(t: &str) -> bool {
    COMMANDS.contains(&first_word(t)) || is_assignment(t)
}

fn is_numbered_comment(t: &str) -> bool {
    let r = t.trim_start_matches('#').trim_start();
    let digits = r.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && r.get(digits..)
            .is_some_and(|r| r.starts_with(". ") || r.starts_with(") "))
}

fn is_table_line(t: &str) -> bool {
    t.matches('|').count() >= 2 && (t.starts_with('|') || t.ends_with('|'))
}

fn is_delimiter_row(t: &str) -> bool {
    is_table_line(t) && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

fn is_heading_like(t: &str) -> bool {
    let words = t.split_whitespace().count();
    t.chars().count() <= 60
        && (1..=6).contains(&words)
        && t.starts_with(|c: char| c.is_uppercase())
        && t.ends_with(|c: char| c.is_alphanumeric() || c == ')')
        && !t.contains('|')
        && !is_shell_line(t)
}

fn is_trigger(t: &str) -> bool {
    let l = t.to_lowercase();
    [
        "run these",
        "run this",
        "run the following",
        "run all of the below",
        "run the below",
        "run the commands",
    ]
    .iter()
    .any(|p| l.contains(p))
}

/// Whether the page looks like Markdown that lost its markup: many lines, no fences,
/// no `##` headings, almost no blank lines.
fn lost_markdown(text: &str) -> bool {
    let mut n = 0usize;
    let mut blank = 0usize;
    for l in text.lines() {
        n += 1;
        let t = l.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") || t.starts_with("## ") {
            return false;
        }
        if t.is_empty() {
            blank += 1;
        }
    }
    n >= 8 && blank * 20 < n
}

struct Out<'a> {
    input: &'a str,
    map: &'a SourceMap,
    b: Builder,
    rec: Recovered,
}

impl Out<'_> {
    fn copy(&mut self, r: Range<usize>) {
        self.b.copy(self.input, r, self.map);
    }
    fn insert(&mut self, s: &str) {
        self.b.insert(s);
    }
    fn at(&self) -> usize {
        self.b.out.len()
    }
}

/// Re-inserts lost markup; `None` when the text still has its Markdown.
pub(crate) fn recover(
    input: &str,
    map: &SourceMap,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(String, SourceMap, Recovered)> {
    if !lost_markdown(input) {
        return None;
    }
    let lines: Vec<Range<usize>> = line_ranges(input).collect();
    let trimmed = |r: &Range<usize>| -> Range<usize> {
        let l = line_text(input, r);
        let lead = l.len() - l.trim_start().len();
        r.start + lead..r.start + l.trim_end().len()
    };
    let text = |i: usize| lines.get(i).map_or("", |r| line_text(input, r).trim());
    let orig = |r: Range<usize>| map.map_range(&r);
    let mut o = Out {
        input,
        map,
        b: Builder::new(map.map(0), input.len() + 1024),
        rec: Recovered::default(),
    };
    diags.push(idx.diag(
        "recovered-markdown",
        Severity::Info,
        orig(0..0),
        "this page has lost its Markdown (no fences, no `##` headings, no blank lines): it was read line by \
         line, guessing headings, commands, tables and lists as noted below",
    ));
    let mut i = 0;
    let mut trigger = false;
    let mut stand_down = false;
    let mut titled = false;
    while let Some(r) = lines.get(i).cloned() {
        let t = text(i);
        if t.is_empty() {
            o.copy(r);
            i += 1;
            continue;
        }
        if !titled {
            titled = true;
            if t.chars().count() <= 100 && !t.ends_with('.') {
                o.rec.headings.insert(o.at());
                o.insert("# ");
                o.copy(trimmed(&r));
                o.insert("\n\n");
                diags.push(idx.diag(
                    "recovered-heading",
                    Severity::Info,
                    orig(trimmed(&r)),
                    format!("read the first line \"{t}\" as the title"),
                ));
                i += 1;
                continue;
            }
        }
        // Tables: a header row followed by a delimiter row.
        if is_table_line(t) && is_delimiter_row(text(i + 1)) {
            let cols = t.trim_matches('|').split('|').count();
            o.insert("\n");
            let mut j = i;
            while j < lines.len()
                && (is_table_line(text(j)) || (j > i + 1 && text(j).contains(" | ")))
            {
                let row = trimmed(&lines[j]);
                let rt = text(j);
                if j > i + 1 {
                    repair_row(&mut o, row.clone(), rt, cols, idx, diags, &orig);
                } else {
                    o.copy(row);
                }
                o.insert("\n");
                j += 1;
            }
            o.insert("\n");
            i = j;
            trigger = false;
            continue;
        }
        if is_heading_like(t) {
            let tr = trimmed(&r);
            o.insert("\n");
            o.rec.headings.insert(o.at());
            o.insert("## ");
            o.copy(tr.clone());
            o.insert("\n\n");
            stand_down = crate::text::role_of(t) == Some(Role::StandDown);
            trigger = false;
            diags.push(idx.diag(
                "recovered-heading",
                Severity::Info,
                orig(tr),
                format!("read the short line \"{t}\" as a heading"),
            ));
            i += 1;
            continue;
        }
        if t == "-" || t.starts_with("- ") {
            i = list_region(&mut o, &lines, i, stand_down, idx, diags, &orig);
            trigger = false;
            continue;
        }
        let next_is_shell = (i + 1..lines.len())
            .map(&text)
            .find(|n| !n.starts_with('#'))
            .is_some_and(is_shell_line);
        if is_shell_line(t) || (t.starts_with('#') && (trigger || next_is_shell)) {
            let mut j = i;
            while j < lines.len() && (is_shell_line(text(j)) || text(j).starts_with('#')) {
                j += 1;
            }
            code_region(&mut o, &lines, i..j, &text, trigger, idx, diags, &orig);
            i = j;
            trigger = false;
            continue;
        }
        // Prose. A leading `#` here is not a heading: escape it.
        let tr = trimmed(&r);
        if t.starts_with('#') {
            o.insert("\\");
        }
        o.copy(tr);
        o.insert("\n");
        trigger = is_trigger(t);
        i += 1;
    }
    let (text, map) = o.b.finish();
    Some((text, map, o.rec))
}

/// Adds a missing leading `|` and escapes pipes beyond the header's column count (they
/// belong to the last cell: `curl /readyz | jq .`).
fn repair_row(
    o: &mut Out<'_>,
    row: Range<usize>,
    rt: &str,
    cols: usize,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
    orig: &dyn Fn(Range<usize>) -> Range<usize>,
) {
    let mut notes = Vec::new();
    if !rt.starts_with('|') {
        o.insert("| ");
        notes.push("added the missing leading `|`".to_string());
    }
    let pipes: Vec<usize> = rt.match_indices('|').map(|(k, _)| k).collect();
    let lead = usize::from(rt.starts_with('|'));
    let trail = usize::from(rt.ends_with('|'));
    // Separators between cells: the first cols-1 inner pipes are real.
    let inner: Vec<usize> = pipes
        .get(lead..pipes.len().saturating_sub(trail))
        .unwrap_or(&[])
        .to_vec();
    let extra: Vec<usize> = inner.get(cols.saturating_sub(1)..).unwrap_or(&[]).to_vec();
    let mut pos = 0;
    for &k in &extra {
        o.copy(row.start + pos..row.start + k);
        o.insert("\\");
        pos = k;
    }
    o.copy(row.start + pos..row.end);
    if !rt.ends_with('|') {
        o.insert(" |");
    }
    if !extra.is_empty() {
        notes.push(format!(
            "kept {} extra `|` inside the last cell ({} columns expected)",
            extra.len(),
            cols
        ));
    }
    if !notes.is_empty() {
        diags.push(idx.diag(
            "recovered-table-row",
            Severity::Info,
            orig(row),
            format!("table row repaired: {}", notes.join("; ")),
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn code_region<'t>(
    o: &mut Out<'_>,
    lines: &[Range<usize>],
    region: Range<usize>,
    text: &dyn Fn(usize) -> &'t str,
    triggered: bool,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
    orig: &dyn Fn(Range<usize>) -> Range<usize>,
) {
    let numbered: Vec<usize> = region
        .clone()
        .filter(|&k| is_numbered_comment(text(k)))
        .collect();
    let assigns = region.clone().any(|k| is_assignment(text(k)));
    let mut starts = vec![region.start];
    if numbered.len() >= 2 && !assigns {
        starts.extend(numbered.iter().copied().filter(|&k| k > region.start));
    }
    starts.push(region.end);
    for w in starts.windows(2) {
        let (a, b) = (w[0], w[1]);
        o.insert("\n");
        o.rec.fences.insert(o.at());
        o.insert("```bash\n");
        for r in lines.get(a..b).unwrap_or(&[]) {
            o.copy(r.clone());
            if !o.b.out.ends_with('\n') {
                o.insert("\n");
            }
        }
        o.insert("```\n\n");
    }
    let span = match (
        lines.get(region.start),
        lines.get(region.end.saturating_sub(1)),
    ) {
        (Some(a), Some(b)) => orig(a.start..b.end),
        _ => orig(0..0),
    };
    let steps = starts.len() - 1;
    let why = if triggered {
        "after a \"run these\" sentence"
    } else {
        "that start with a known command"
    };
    let split = if steps > 1 {
        ", split at its numbered comments"
    } else {
        ""
    };
    diags.push(idx.diag(
        "recovered-commands",
        Severity::Info,
        span,
        format!(
            "read {} bare lines {why} as shell commands: {steps} step(s){split}",
            region.len()
        ),
    ));
}

/// A flattened list: items were joined into lines (`text. - next item`). Splits them at
/// ` - ` and re-emits one item per line; task items in a stand-down section.
fn list_region(
    o: &mut Out<'_>,
    lines: &[Range<usize>],
    start: usize,
    stand_down: bool,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
    orig: &dyn Fn(Range<usize>) -> Range<usize>,
) -> usize {
    // Pieces of the joined text: (joined offset, input range).
    let mut joined = String::new();
    let mut pieces: Vec<(usize, Range<usize>)> = Vec::new();
    let mut j = start;
    let mut prev = "";
    while let Some(r) = lines.get(j) {
        let l = line_text(o.input, r);
        let t = l.trim();
        if j > start {
            let new_paragraph = prev.ends_with('.')
                && !t.starts_with('-')
                && t.starts_with(|c: char| c.is_uppercase())
                && t.len() > 40;
            if t.is_empty() || is_heading_like(t) || is_table_line(t) || new_paragraph {
                break;
            }
            joined.push(' ');
        }
        let lead = l.len() - l.trim_start().len();
        pieces.push((joined.len(), r.start + lead..r.start + lead + t.len()));
        joined.push_str(t);
        prev = t;
        j += 1;
    }
    // Item boundaries: a leading "-" and every " - ".
    let mut cuts: Vec<Range<usize>> = Vec::new();
    let jb = joined.as_bytes();
    let mut k = 0;
    while k < jb.len() {
        let at_start = k == 0 && jb[0] == b'-' && jb.get(1).is_none_or(|c| *c == b' ');
        let mid =
            k > 0 && jb[k] == b'-' && jb[k - 1] == b' ' && jb.get(k + 1).is_none_or(|c| *c == b' ');
        if at_start || mid {
            cuts.push(k..(k + 2).min(jb.len()));
        }
        k += 1;
    }
    let mut items: Vec<Range<usize>> = Vec::new();
    for (n, c) in cuts.iter().enumerate() {
        let end = cuts.get(n + 1).map_or(joined.len(), |d| d.start);
        let mut s = c.end;
        let mut e = end;
        while s < e && jb[s] == b' ' {
            s += 1;
        }
        while e > s && jb[e - 1] == b' ' {
            e -= 1;
        }
        if s < e {
            items.push(s..e);
        }
    }
    o.insert("\n");
    for it in &items {
        if stand_down {
            o.rec.items.insert(o.at());
            o.insert("- [ ] ");
        } else {
            o.insert("- ");
        }
        // Copy the joined range piece by piece (line breaks became spaces).
        let mut first = true;
        for (off, r) in &pieces {
            let len = r.end - r.start;
            let (ps, pe) = (*off, off + len);
            let (s, e) = (it.start.max(ps), it.end.min(pe));
            if s >= e {
                continue;
            }
            if !first {
                o.insert(" ");
            }
            first = false;
            o.copy(r.start + (s - ps)..r.start + (e - ps));
        }
        o.insert("\n");
    }
    o.insert("\n");
    let span = match (pieces.first(), pieces.last()) {
        (Some(a), Some(b)) => orig(a.1.start..b.1.end),
        _ => orig(0..0),
    };
    let kind = if stand_down {
        "checklist items (stand-down gates)"
    } else {
        "list items"
    };
    diags.push(idx.diag(
        "recovered-list",
        Severity::Info,
        span,
        format!(
            "joined {} flattened lines and split them at \" - \" into {} {kind}",
            j - start,
            items.len()
        ),
    ));
    j.max(start + 1)
}
