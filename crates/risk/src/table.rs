//! The declarative rule table (`rules.txt`, embedded) and prefix/flag matching against words.

use crate::{CustomRule, Level};

/// The builtin rules, one per line: `LEVEL  WORD... [-FLAG[=VALUE]]...`. See docs/risk.md.
pub const RULES_TEXT: &str = include_str!("rules.txt");

/// One positional word of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Pat {
    /// `*`: any word.
    Any,
    /// `describe-*`: a word starting with this.
    Prefix(String),
    /// A literal word (ASCII case-insensitive for custom rules' sake).
    Exact(String),
}

impl Pat {
    fn new(s: &str) -> Pat {
        if s == "*" {
            Pat::Any
        } else if let Some(p) = s.strip_suffix('*') {
            Pat::Prefix(p.to_string())
        } else {
            Pat::Exact(s.to_string())
        }
    }

    fn matches(&self, w: &str) -> bool {
        match self {
            Pat::Any => true,
            Pat::Prefix(p) => w.starts_with(p.as_str()),
            Pat::Exact(e) => w == e,
        }
    }
}

/// A flag that must be present: `-f`, `--force`, `--vacuum-*`, `-X=DELETE` (flag with value).
#[derive(Debug, Clone, PartialEq)]
struct FlagPat {
    name: Pat,
    value: Option<String>,
}

/// One rule: positional words, required flags, the level, and how it is named in reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    words: Vec<Pat>,
    flags: Vec<FlagPat>,
    pub level: Level,
    pub name: String,
    pub custom: bool,
}

impl Rule {
    /// Parses one table line (without comment); `None` for blank or malformed lines.
    pub fn parse_line(line: &str) -> Option<Rule> {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut it = line.split_whitespace();
        let level = Level::parse(it.next()?)?;
        let pattern: Vec<&str> = it.collect();
        Rule::from_pattern(&pattern, level, false)
    }

    /// A site rule: its prefix words become positional (and flag) patterns.
    pub fn from_custom(c: &CustomRule) -> Option<Rule> {
        let words: Vec<&str> = c.prefix.split_whitespace().collect();
        let mut r = Rule::from_pattern(&words, c.level, true)?;
        if let Some(why) = &c.reason {
            r.name = format!("site: {} ({why})", r.name);
        } else {
            r.name = format!("site: {}", r.name);
        }
        Some(r)
    }

    fn from_pattern(pattern: &[&str], level: Level, custom: bool) -> Option<Rule> {
        let mut words = Vec::new();
        let mut flags = Vec::new();
        for p in pattern {
            if p.starts_with('-') && p.len() > 1 {
                let (name, value) = match p.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (*p, None),
                };
                flags.push(FlagPat {
                    name: Pat::new(name),
                    value,
                });
            } else {
                words.push(Pat::new(p));
            }
        }
        // A rule must name its command: a leading `*` would match everything.
        match words.first() {
            Some(Pat::Exact(e)) if !e.is_empty() => {}
            Some(Pat::Prefix(p)) if !p.is_empty() => {}
            _ => return None,
        }
        Some(Rule {
            words,
            flags,
            level,
            name: pattern.join(" "),
            custom,
        })
    }

    fn positional_len(&self) -> usize {
        self.words.len()
    }

    /// A cheap necessary condition for [`Rule::matches`]: a literal second word must be
    /// among the command's words after the first (positional matching only ever matches a
    /// pattern word against an equal word).
    fn may_match(&self, words: &[String]) -> bool {
        match self.words.get(1) {
            Some(Pat::Exact(e)) => words.iter().skip(1).any(|w| w == e),
            _ => true,
        }
    }

    /// True when the rule's words match the command's positional words (option values may be
    /// skipped) and every required flag is present.
    fn matches(&self, words: &[String]) -> bool {
        self.positional_matches(words) && self.flags.iter().all(|f| flag_present(f, words))
    }

    fn positional_matches(&self, words: &[String]) -> bool {
        let mut pats = self.words.iter();
        let Some(mut want) = pats.next() else {
            return false;
        };
        let mut prev_was_flag = false;
        let mut after_dashdash = false;
        for (i, w) in words.iter().enumerate() {
            let is_flag = !after_dashdash && w.starts_with('-') && w.len() > 1;
            if w == "--" && i > 0 {
                after_dashdash = true;
                prev_was_flag = false;
                continue;
            }
            if is_flag {
                prev_was_flag = !w.contains('=');
                continue;
            }
            if want.matches(w) {
                match pats.next() {
                    Some(p) => want = p,
                    None => return true,
                }
            } else if i == 0 || !prev_was_flag {
                // A positional word that is not an option's value and does not match.
                return false;
            }
            prev_was_flag = false;
        }
        false
    }
}

/// Is the flag present among the words? Handles `--flag`, `--flag=v`, `--flag v`, `-f`,
/// combined short flags (`-rf` has `-f`) and `-XVALUE`.
fn flag_present(f: &FlagPat, words: &[String]) -> bool {
    let single_letter = match &f.name {
        Pat::Exact(n) => n.len() == 2 && !n.starts_with("--"),
        _ => false,
    };
    for (i, w) in words.iter().enumerate().skip(1) {
        if w == "--" {
            break;
        }
        if !w.starts_with('-') || w.len() < 2 {
            continue;
        }
        let next = words.get(i + 1).map(String::as_str);
        let (name, inline) = match w.split_once('=') {
            Some((n, v)) if w.starts_with("--") => (n, Some(v)),
            // A single-dash long option with an inline value (`-out=FILE`, Go's flag style),
            // for rows that name a value; `-oValue=x` still reaches the short-flag branch below.
            Some((n, v)) if f.value.is_some() && n.len() > 2 => (n, Some(v)),
            _ => (w.as_str(), None),
        };
        if f.name.matches(name) {
            match &f.value {
                None => return true,
                Some(v) => {
                    if value_matches(v, inline.or(next).unwrap_or("")) {
                        return true;
                    }
                }
            }
        } else if single_letter && !w.starts_with("--") {
            let Pat::Exact(n) = &f.name else { continue };
            let letter = n.get(1..2).unwrap_or("");
            let body = w.get(1..).unwrap_or("");
            match &f.value {
                // Combined short flags such as `-rf`: only letters, the letter among them.
                None => {
                    if body.chars().all(|c| c.is_ascii_alphabetic()) && body.contains(letter) {
                        return true;
                    }
                }
                // `-XDELETE`.
                Some(v) => {
                    if let Some(rest) = body.strip_prefix(letter)
                        && value_matches(v, rest)
                    {
                        return true;
                    }
                }
            }
        }
    }
    false
}

/// A flag's value against a pattern, ASCII case-insensitive: `v` exactly, or `v*` any value
/// starting with `v` (`-o=ProxyCommand*` matches `-o ProxyCommand=nc %h`).
fn value_matches(pattern: &str, got: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => got
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        None => got.eq_ignore_ascii_case(pattern),
    }
}

/// Parses the builtin table. Malformed lines are skipped here; a unit test keeps the table
/// free of them.
pub fn builtin_rules() -> Table {
    Table::new(RULES_TEXT.lines().filter_map(Rule::parse_line).collect())
}

/// Rules in table order, indexed by their first word so a lookup only tries the rules that
/// can match the command's name (the answer is the same as trying them all).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    rules: Vec<Rule>,
    /// Indices of rules whose first word is a literal, by that word.
    by_name: std::collections::HashMap<String, Vec<u32>, FnvBuild>,
    /// Indices of rules whose first word is a prefix pattern (`describe-*`).
    by_prefix: Vec<u32>,
}

impl Table {
    pub fn new(rules: Vec<Rule>) -> Table {
        let mut by_name: std::collections::HashMap<String, Vec<u32>, FnvBuild> =
            std::collections::HashMap::default();
        let mut by_prefix = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match r.words.first() {
                Some(Pat::Exact(e)) => by_name.entry(e.clone()).or_default().push(i),
                // `from_pattern` rejects rules without a first word or with `*` there; a
                // prefix (or anything else) is tried on every lookup.
                _ => by_prefix.push(i),
            }
        }
        Table {
            rules,
            by_name,
            by_prefix,
        }
    }

    /// The rules that may match `words`, in table order. A rule's first word must match the
    /// command's first word unless that word looks like a flag (flags are skipped when
    /// matching positionals), in which case every rule is a candidate.
    fn candidates<'t>(&'t self, words: &[String]) -> Candidates<'t> {
        let first = words.first().map_or("", String::as_str);
        if first.starts_with('-') && first.len() > 1 {
            return Candidates::All(self.rules.iter());
        }
        let named = self.by_name.get(first).map_or(&[][..], Vec::as_slice);
        Candidates::Merge {
            rules: &self.rules,
            a: named,
            b: &self.by_prefix,
        }
    }
}

impl Table {
    /// The rules matching `words`, in table order.
    fn matching<'t>(&'t self, words: &'t [String]) -> impl Iterator<Item = &'t Rule> + 't {
        self.candidates(words)
            .filter(|r| r.may_match(words))
            .filter(|r| r.matches(words))
    }
}

/// [`Table::candidates`]: every rule, or two ascending index lists merged.
enum Candidates<'t> {
    All(std::slice::Iter<'t, Rule>),
    Merge {
        rules: &'t [Rule],
        a: &'t [u32],
        b: &'t [u32],
    },
}

impl<'t> Iterator for Candidates<'t> {
    type Item = &'t Rule;

    fn next(&mut self) -> Option<&'t Rule> {
        match self {
            Candidates::All(it) => it.next(),
            Candidates::Merge { rules, a, b } => {
                let take_a = match (a.first(), b.first()) {
                    (Some(x), Some(y)) => x < y,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => return None,
                };
                let side = if take_a { a } else { b };
                let (&i, rest) = side.split_first()?;
                *side = rest;
                rules.get(i as usize)
            }
        }
    }
}

/// FNV-1a: the index is keyed by short command names, where SipHash costs more than the
/// lookup it serves. Only the rule table inserts keys; input text is only looked up, so
/// it cannot make the map degrade.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

/// The outcome of a table lookup: the level and the names of the rules that decided it.
pub struct Lookup {
    pub level: Level,
    pub rules: Vec<String>,
}

/// Looks `words` up. The longest positional match sets the base level; flag rules at least
/// as specific then decide together, by their maximum (so `-L` with `-F` is destructive).
pub fn lookup(table: &Table, words: &[String]) -> Option<Lookup> {
    let matching: Vec<&Rule> = table.matching(words).collect();
    let base_len = matching
        .iter()
        .filter(|r| r.flags.is_empty())
        .map(|r| r.positional_len())
        .max()
        .unwrap_or(0);
    let flagged: Vec<&&Rule> = matching
        .iter()
        .filter(|r| !r.flags.is_empty() && r.positional_len() >= base_len)
        .collect();
    let chosen: Vec<&Rule> = if flagged.is_empty() {
        matching
            .iter()
            .filter(|r| r.flags.is_empty() && r.positional_len() == base_len)
            .copied()
            .collect()
    } else {
        flagged.into_iter().copied().collect()
    };
    let mut level = chosen.iter().map(|r| r.level).max();
    let mut rules: Vec<String> = chosen.iter().map(|r| r.name.clone()).collect();
    // A side-effect option raises whatever the words matched: `git -c x log` is not made
    // `read` by the longer `read git log`. Flag rules only lower a level (`--dry-run`) when
    // at least as long as the positional match, above.
    for r in &matching {
        if !r.flags.is_empty() && level.is_none_or(|l| r.level > l) && r.level > Level::Read {
            level = Some(r.level);
            rules = vec![r.name.clone()];
        }
    }
    Some(Lookup {
        level: level?,
        rules,
    })
}

/// Every rule with flags above `read` that matches `words`: the side-effect options, applied
/// also to tools whose handlers decide the rest (`ssh -o ProxyCommand=...`, `curl -K`).
pub fn side_effect_options<'t>(table: &'t Table, words: &'t [String]) -> Vec<&'t Rule> {
    table
        .matching(words)
        .filter(|r| !r.flags.is_empty() && r.level > Level::Read)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_line_parses() {
        for line in RULES_TEXT.lines() {
            let body = line.split('#').next().unwrap_or("").trim();
            if body.is_empty() {
                continue;
            }
            assert!(Rule::parse_line(line).is_some(), "bad rule line: {line}");
        }
    }

    /// The index and the second-word filter only skip rules that cannot match: same answer
    /// as trying every rule.
    #[test]
    fn indexed_lookup_equals_full_scan() {
        let table = builtin_rules();
        let full = |words: &[String]| {
            let all: Vec<&Rule> = table.rules.iter().filter(|r| r.matches(words)).collect();
            all.iter().map(|r| r.name.clone()).collect::<Vec<_>>()
        };
        let mut tried = 0;
        for rule in &table.rules {
            // Each rule's own name (flags included) and variations of it.
            let base: Vec<String> = rule.name.split_whitespace().map(str::to_string).collect();
            let mut variants = vec![base.clone()];
            let mut with_flag = base.clone();
            with_flag.insert(1.min(with_flag.len()), "-n".to_string());
            variants.push(with_flag);
            let mut lead = base.clone();
            lead.insert(0, "--x".to_string());
            variants.push(lead);
            variants.push(base.iter().map(|w| w.replace('*', "abc")).collect());
            variants.push(vec!["-".to_string()]);
            for words in variants {
                let got: Vec<String> = table.matching(&words).map(|r| r.name.clone()).collect();
                assert_eq!(got, full(&words), "{words:?}");
                tried += 1;
            }
        }
        assert!(tried > 1000);
    }
}
