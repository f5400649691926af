//! Unit tests of the fast path: it must return exactly what the tree-sitter path returns.

use super::*;
use crate::shell::{classify_tree_sitter, mask_placeholders};

fn both(c: &Classifier, s: &str) -> (Option<Vec<CommandRisk>>, Vec<CommandRisk>) {
    let masked = mask_placeholders(s);
    (
        classify(c, s, &masked, 0),
        classify_tree_sitter(c, s, &masked, 0),
    )
}

const DATA: &[&str] = &[
    include_str!("../../../../tests/data/risk/corpus.tsv"),
    include_str!("../../../../tests/data/risk/cases.tsv"),
    include_str!("../../../../tests/data/risk/stella.tsv"),
];
const RUNBOOKS: &[&str] = &[
    include_str!("../../../../tests/data/runbooks/01-front-matter.md"),
    include_str!("../../../../tests/data/runbooks/02-section-roles.md"),
    include_str!("../../../../tests/data/runbooks/03-bold-pseudo-headings.md"),
    include_str!("../../../../tests/data/runbooks/04-nested-steps.md"),
    include_str!("../../../../tests/data/runbooks/05-attributes-json.md"),
    include_str!("../../../../tests/data/runbooks/06-attributes-legacy.md"),
    include_str!("../../../../tests/data/runbooks/07-severity-table.md"),
    include_str!("../../../../tests/data/runbooks/08-triage-thresholds.md"),
    include_str!("../../../../tests/data/runbooks/09-contacts-generic.md"),
    include_str!("../../../../tests/data/runbooks/10-task-lists.md"),
    include_str!("../../../../tests/data/runbooks/11-alert-rule-single.md"),
    include_str!("../../../../tests/data/runbooks/12-alert-rule-groups.md"),
    include_str!("../../../../tests/data/runbooks/13-linked/database.md"),
    include_str!("../../../../tests/data/runbooks/13-linked/network.md"),
    include_str!("../../../../tests/data/runbooks/14-placeholders.md"),
    include_str!("../../../../tests/data/runbooks/15-not-shell.md"),
    include_str!("../../../../tests/data/runbooks/16-duplicate-names.md"),
    include_str!("../../../../tests/data/runbooks/17-empty-section.md"),
    include_str!("../../../../tests/data/runbooks/18-stand-down-without-checklist.md"),
    include_str!("../../../../tests/data/runbooks/19-commands-and-blocks.md"),
    include_str!("../../../../tests/data/runbooks/20-crlf-setext-unicode.md"),
    include_str!("../../../../tests/data/runbooks/21-broken-front-matter.md"),
    include_str!("../../../../tests/data/runbooks/22-front-matter-types-and-broken-rules.md"),
    include_str!("../../../../examples/runbooks/checkout-high-error-rate.md"),
    include_str!("../../../../examples/runbooks/node-disk-almost-full.md"),
    include_str!("../../../../examples/runbooks/postgres-replication-lag.md"),
];

/// Every command of the risk corpora (each alone, and all of a file's commands as one
/// script) and the body of every fenced block of the runbook fixtures.
fn scripts() -> Vec<String> {
    let mut out = Vec::new();
    for data in DATA {
        let mut all = String::new();
        for line in data.lines().filter(|l| !l.starts_with('#')) {
            for field in line.split('\t') {
                if Level::parse(field).is_some() || field.starts_with("seeds/") {
                    continue;
                }
                let cmd = field.replace("\\n", "\n").replace("\\\\", "\\");
                all.push_str(&cmd);
                all.push('\n');
                out.push(cmd);
            }
        }
        out.push(all);
    }
    for rb in RUNBOOKS {
        for (k, part) in rb.split("```").enumerate() {
            if k % 2 == 1 {
                let body = part.split_once('\n').map_or("", |(_, b)| b);
                out.push(body.to_string());
                out.push(body.replace("\r\n", "\n"));
            }
        }
    }
    out
}

fn check(c: &Classifier, s: &str) -> bool {
    let (fast, tree) = both(c, s);
    if let Some(f) = &fast {
        assert_eq!(f, &tree, "fast path differs from tree-sitter on {s:?}");
    }
    fast.is_some()
}

#[test]
fn fast_path_equals_tree_sitter_on_the_corpus_and_fixtures() {
    let custom = [crate::CustomRule {
        prefix: "stella evidence".to_string(),
        level: Level::Read,
        reason: None,
    }];
    let mut fast = 0;
    let all = scripts();
    for c in [Classifier::builtin(), Classifier::with_custom(&custom)] {
        for s in &all {
            fast += usize::from(check(&c, s));
        }
    }
    println!("fast path took {fast} of {} scripts", 2 * all.len());
    // Not vacuous: most real commands are simple.
    assert!(fast * 2 > all.len(), "fast path took only {fast}");
}

const TOKENS: &[&str] = &[
    "ls",
    "rm",
    "-rf",
    "/tmp/x",
    "kubectl",
    "delete",
    "get",
    "pod",
    "-n",
    "prod",
    "systemctl",
    "stop",
    "nginx",
    "curl",
    "-X",
    "DELETE",
    "http://x/y?z=1",
    "sudo",
    "X=1",
    "FOO+=bar",
    "'a b'",
    "'rm -rf /'",
    "\"a $X\"",
    "\"${Y}\"",
    "\"\\$x\\n\"",
    "$Z",
    "${W}",
    "2>&1",
    ">",
    "out",
    ">>",
    "/dev/null",
    "<",
    "in",
    "|",
    "&&",
    "||",
    ";",
    "&",
    "\n",
    "# c",
    "\\\n",
    "*",
    "?",
    "=x",
    "a=b",
    "2",
    "1",
    ">&",
    "&>",
    "&>>",
    "-",
    "--",
    " ",
    "\t",
    "psql",
    "-c",
    "'DROP TABLE x'",
    "ssh",
    "host",
    "bash",
    "sh",
    "echo",
    "find",
    ".",
    "-delete",
    "-exec",
    "\\;",
    "xargs",
    "env",
    "timeout",
    "10",
    "(",
    ")",
    "{",
    "}",
    "$(",
    "`",
    "<<",
    "<<<",
    "EOF",
    "!",
    "[",
    "]",
    "[[",
    "if",
    "then",
    "fi",
    "for",
    "do",
    "done",
    "export",
    "local",
    "time",
    "tee",
    "dd",
    "of=/dev/sda",
    "x\\ y",
    "%s",
    "~/x",
    "<pod>",
    "é",
    "\r",
    "$",
    "$1",
    "$?",
    "==",
    "=~",
    "\\",
    "\"",
    "'",
    "#",
    "a#b",
    "docker",
    "exec",
    "redis-cli",
    "FLUSHALL",
    "wget",
    "-O",
    "-",
    "watch",
    "mount",
    "nice",
    "-o",
    "x.sql",
    ">|",
    "<>",
    "-f",
    "2>",
    "3>",
    "10>",
    "&>-",
    ">&2",
    "<&0",
    ">(",
    "<(",
    "\r\n",
    "\\\r\n",
    "'a\rb'",
    "\"a\rb\"",
    "x\r",
    "{}",
    "-I{}",
    "{a,b}",
    "{1..3}",
    "a{b}c",
    "{a}",
    "}{",
    "{}\\;",
    "+",
    "kubectl",
    "{x}y",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

    #[test]
    fn fast_path_equals_tree_sitter_on_token_soup(
        toks in proptest::collection::vec((0..TOKENS.len(), 0u8..4), 0..14)
    ) {
        let mut s = String::new();
        for (t, sep) in toks {
            s.push_str(TOKENS[t]);
            if sep > 0 {
                s.push(' ');
            }
        }
        check(&Classifier::builtin(), &s);
    }

    #[test]
    fn fast_path_equals_tree_sitter_on_simple_commands(
        lines in proptest::collection::vec(
            (proptest::collection::vec(0..45usize, 1..6), 0..12usize, 0..6usize), 1..8)
    ) {
        // Well-formed simple commands: mostly taken by the fast path.
        const W: &[&str] = &[
            "ls", "rm", "-rf", "/tmp/x", "kubectl", "delete", "get", "pod", "-n", "prod",
            "systemctl", "stop", "nginx", "curl", "-X", "DELETE", "http://x", "sudo",
            "'a b'", "\"a $X\"", "$Z", "psql", "-c", "'DROP TABLE x'", "ssh", "host",
            "bash", "echo", "find", ".", "-delete", "xargs", "env", "X=1", "timeout", "10",
            "tee", "dd", "of=/dev/sda", "<pod>", "{}", "\\;", "-exec", "-I{}", "{a,b}",
        ];
        const OPS: &[&str] = &[
            "\n", " | ", " && ", " || ", "; ", " & ", " |\n  ", " \\\n  ", "\r\n", " \\\r\n ",
            " |\r\n ", "\r\n\r\n",
        ];
        const RED: &[&str] = &["", " > out", " 2>&1", " >/dev/null 2>&1", " >> log", " < in"];
        let mut s = String::new();
        for (k, (words, op, red)) in lines.iter().enumerate() {
            if k > 0 {
                s.push_str(OPS[*op]);
            }
            let ws: Vec<&str> = words.iter().map(|w| W[*w]).collect();
            s.push_str(&ws.join(" "));
            s.push_str(RED[*red]);
        }
        check(&Classifier::builtin(), &s);
    }

    #[test]
    fn fast_path_equals_tree_sitter_on_noise(s in "[a-z0-9<>|&;$'\"# \\r\\n=\\\\*?{}()-]{0,50}") {
        check(&Classifier::builtin(), &s);
    }
}

#[test]
fn tricky_cases_match_or_fall_back() {
    let c = Classifier::builtin();
    for s in [
        "ls # comment",
        "ls > out # c",
        "a | b > out | c",
        "a | b 2>&1",
        "a | b > out && c > x",
        "a > out | b | c > d",
        "a > out && b",
        "a 2>&1 > out",
        "X=1 ls",
        "X=1",
        "X= ls",
        "ls &\nrm x",
        "ls;",
        "ls ;\n",
        "\\\n",
        "\\ ",
        "2%s",
        "a &> out",
        "a &>> out",
        "a < in > out",
        "a 10>out",
        "cmd & cmd2",
        "a &&\n b",
        "a |\n b",
        "ls \\\n  -la",
        "x 5m",
        "x 10.0.0.1",
        "x 2%s",
        "x 1:2",
        "x 1/2",
        "x 1-2",
        "x 1,2",
        "x 1=2",
        "x 1+2",
        "x 1@2",
        "x 1~2",
        "x 1^2",
        "x 1*",
        "x 1?",
        "x -1",
        "x -1%",
        "x 0x1F",
        "x 1_000",
        "x 1.5",
        "x 2#3",
        "x 1a",
        "x 1$X",
        "x 1'a'",
        "x 1\"a\"",
        "x a%s",
        "X=1 http://x",
        "X=1 a:b",
        "X=1 ls a:b",
        "http://x",
        "X=a:b ls",
        "X=1 1ls",
        "x \\;",
        "x a\\ b",
        "x a\\:b",
        "\\ls",
        "x -%",
        "x %1",
        "x :1",
        "x 1 2>&1",
        "x 12>out",
        "x 1a>out",
        "X=1 a@b",
        "X=1 a+b",
        "X=1 a%b",
        "X=1 a=b",
        "X=1 a~b",
        "X=1 a,b",
        "x ~ ~/a ~a",
        "x 1%",
        "x 1-",
        "x 1.",
        "x 1e5",
        "x -1h",
        "x --1",
        "x -0.5",
        "x 5m2s",
        "x 1x2",
        "x 1/s",
        "x 09",
        "x 1#",
        "x 1#a",
    ] {
        check(&c, s);
    }
}
