//! Side-effect options and programs that run programs, generated from the data: every flag
//! row above `read` in the rule table raises a command that uses it, and no read corpus
//! command stays `read` once such an option or a program-running wrapper is added.

use sitrep_risk::{Classifier, Level, RULES_TEXT};

const CORPUS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/corpus.tsv"
));

/// A flag row of the table: its level, positional words and flags, each with its value.
struct OptionRow {
    line: String,
    level: Level,
    words: Vec<String>,
    flags: Vec<Vec<String>>,
}

/// Every rule line with a flag and a level above `read`: the side-effect options.
fn option_rows() -> Vec<OptionRow> {
    let fill = |s: &str| s.replace('*', "x");
    RULES_TEXT
        .lines()
        .filter_map(|line| {
            let body = line.split('#').next()?.trim();
            let mut it = body.split_whitespace();
            let level = Level::parse(it.next()?)?;
            let (flags, words): (Vec<&str>, Vec<&str>) =
                it.partition(|t| t.starts_with('-') && t.len() > 1);
            if flags.is_empty() || level == Level::Read {
                return None;
            }
            Some(OptionRow {
                line: body.to_string(),
                level,
                words: words.iter().map(|w| fill(w)).collect(),
                flags: flags
                    .iter()
                    .map(|f| match f.split_once('=') {
                        Some((n, v)) if n.starts_with("--") => vec![format!("{n}={}", fill(v))],
                        Some((n, v)) => vec![fill(n), fill(v)],
                        None => vec![fill(f)],
                    })
                    .collect(),
            })
        })
        .collect()
}

/// Single-quotes a word for the shell.
fn quote(w: &str) -> String {
    format!("'{}'", w.replace('\'', r"'\''"))
}

#[test]
fn every_side_effect_option_row_raises_a_command_using_it() {
    let c = Classifier::builtin();
    let rows = option_rows();
    assert!(rows.len() > 150, "only {} option rows found", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let mut words = row.words.clone();
        words.extend(row.flags.iter().flatten().cloned());
        let script: Vec<String> = words.iter().map(|w| quote(w)).collect();
        let script = script.join(" ");
        let got = c.classify(&script).level;
        if got < row.level {
            failures.push(format!("{}: {script} is {got}", row.line));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The read commands of the corpus (one line each).
fn read_commands() -> Vec<String> {
    CORPUS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split('\t');
            (f.next()? == "read").then(|| f.next().map(str::to_string))?
        })
        .filter(|cmd| !cmd.contains("\\n"))
        .collect()
}

/// Adding a side-effect option to a read command never leaves it below the option's level.
#[test]
fn read_commands_with_a_side_effect_option_are_raised() {
    let c = Classifier::builtin();
    let rows = option_rows();
    let mut tried = 0;
    let mut failures = Vec::new();
    for cmd in read_commands() {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let Some((first, rest)) = words.split_first() else {
            continue;
        };
        if cmd.contains(['|', ';', '&', '$', '`', '(', '<', '>']) {
            continue;
        }
        for row in rows
            .iter()
            .filter(|r| r.words.first().is_some_and(|w| w == first))
        {
            if !row.words.iter().skip(1).all(|w| rest.contains(&w.as_str())) {
                continue;
            }
            let flags: Vec<String> = row.flags.iter().flatten().map(|f| quote(f)).collect();
            let script = format!("{first} {} {}", flags.join(" "), rest.join(" "));
            let got = c.classify(&script).level;
            tried += 1;
            if got < row.level {
                failures.push(format!("{}: {script} is {got}", row.line));
            }
        }
    }
    assert!(tried > 20, "only {tried} combinations");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Handing a read command's output, or the command itself, to a program that runs programs
/// is never `read`.
#[test]
fn read_commands_fed_to_programs_that_run_programs_are_never_read() {
    let c = Classifier::builtin();
    let mut failures = Vec::new();
    let commands = read_commands();
    assert!(commands.len() > 200);
    for cmd in &commands {
        let mut scripts = vec![
            format!("{cmd} | awk '{{system($0)}}'"),
            format!("{cmd} | awk '{{print > \"/tmp/out\"}}'"),
            format!("{cmd} | sed 'e'"),
            format!("{cmd} | sed -n 'w /tmp/out'"),
            format!("{cmd} | sed 's/^/x/w /tmp/out'"),
            format!("{cmd} | sh"),
            format!("{cmd} | python3 -c 'import sys'"),
            format!("{cmd} | xargs -I{{}} sh -c '{{}}'"),
            format!("{cmd} | perl -ne 'print'"),
            format!("{cmd} | sort -o /tmp/out"),
            format!("{cmd} && source ./env.sh"),
        ];
        if !cmd.contains(['\'', '"', '\\']) {
            scripts.push(format!("awk 'BEGIN {{system(\"{cmd}\")}}'"));
            scripts.push(format!("perl -e 'system(q{{{cmd}}})'"));
            scripts.push(format!("sed '1e {cmd}' /etc/hostname"));
            scripts.push(format!("mongosh --eval '{cmd}'"));
        }
        for s in scripts {
            let got = c.classify(&s).level;
            if got == Level::Read {
                failures.push(s);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
