//! Properties: `parse` never panics, every range it returns lies within the input on
//! char boundaries, step ids survive unrelated edits, and spans point at what they name.

use proptest::prelude::*;
use serde_json::Value;
use sitrep_runbook::{lint, parse};

const SOURCES: &[&str] = &[
    include_str!("../../../tests/data/runbooks/01-front-matter.md"),
    include_str!("../../../tests/data/runbooks/03-bold-pseudo-headings.md"),
    include_str!("../../../tests/data/runbooks/04-nested-steps.md"),
    include_str!("../../../tests/data/runbooks/05-attributes-json.md"),
    include_str!("../../../tests/data/runbooks/10-task-lists.md"),
    include_str!("../../../tests/data/runbooks/12-alert-rule-groups.md"),
    include_str!("../../../tests/data/runbooks/14-placeholders.md"),
    include_str!("../../../tests/data/runbooks/19-commands-and-blocks.md"),
    include_str!("../../../tests/data/runbooks/20-crlf-setext-unicode.md"),
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/seeds/owasaka-incident-playbook.txt"
    )),
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/seeds/stella-evidence-locker-runbook.txt"
    )),
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/seeds/quicprochat-incident-response.txt"
    )),
    include_str!("../../../tests/data/runbooks/23-param-types.md"),
    include_str!("../../../tests/data/runbooks/24-placeholder-reread.md"),
    include_str!("../../../tests/data/runbooks/25-transcripts.md"),
    include_str!("../../../tests/data/runbooks/26-database-prompts.md"),
    include_str!("../../../tests/data/runbooks/27-untagged-not-shell.md"),
    include_str!("../../../tests/data/runbooks/28-prose-placeholders.md"),
];

/// Every `{start, end}` object in the serialized model and diagnostics is a valid range.
fn check_ranges(text: &str) -> Result<(), String> {
    let (rb, mut diags) = parse(text);
    diags.extend(lint(&rb, text));
    let v = serde_json::json!({ "runbook": rb, "diagnostics": diags });
    let mut bad = Vec::new();
    walk(&v, text, &mut bad);
    for d in &diags {
        if d.line == 0 || d.column == 0 {
            bad.push(format!(
                "diagnostic {} at line {} column {}",
                d.code, d.line, d.column
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

fn walk(v: &Value, text: &str, bad: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.len() == 2
                && let (Some(s), Some(e)) = (
                    m.get("start").and_then(Value::as_u64),
                    m.get("end").and_then(Value::as_u64),
                )
            {
                let (s, e) = (s as usize, e as usize);
                if !(s <= e
                    && e <= text.len()
                    && text.is_char_boundary(s)
                    && text.is_char_boundary(e))
                {
                    bad.push(format!("range {s}..{e} in a text of {} bytes", text.len()));
                }
                return;
            }
            m.values().for_each(|x| walk(x, text, bad));
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, text, bad)),
        _ => {}
    }
}

/// Markdown-heavy alphabet, so generated inputs hit fences, tables, lists and attributes.
fn markdownish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\n",
        "\n\n",
        "# ",
        "## ",
        "### ",
        "```bash",
        "```",
        "```yaml\n",
        "~~~",
        "- ",
        "1. ",
        "- [ ] ",
        "- [x] ",
        "**",
        "**Diagnosis:**",
        "SEV1 (Response: 5m)",
        "**Response Time**: 15 minutes",
        ": é",
        "**Team lead** (P0, P1)",
        "Escalation Path",
        "(within 1 hour of resolution)",
        "| a | b |",
        "|---|---|",
        "|",
        "{\"name\":\"x\"}",
        "{ name=y }",
        "$VAR",
        "${V}",
        "<id>",
        "\\",
        "'",
        "\"",
        "alert: A\nexpr: up == 0\n",
        "---\n",
        "[l](#x)",
        "[f](b.md#y)",
        "é",
        "€",
        "\r\n",
        "  ",
        "\t",
        "cat <<EOF\n",
        "EOF\n",
        "Run these in order.\n",
        "systemctl stop x\n",
        "TS=$(date)\n",
        "# 1. x\n",
        "Symptoms",
        "Stand-down checklist",
        "409 lines\n8.4 KiB\nMarkdown\n",
        "|\n|\n",
        "```console\n",
        "$ ",
        "# ",
        "> ",
        "user@h:~$ ",
        "[root@h ~]# ",
        "app=# ",
        "app-# ",
        "mysql> ",
        "127.0.0.1:6379> ",
        "NAME   READY\n",
        "apiVersion: v1\n",
        "sum(rate(x[5m]))\n",
    ]);
    prop::collection::vec(pieces, 0..80).prop_map(|v| v.concat())
}

proptest! {
    // 256 cases by default; `PROPTEST_CASES=N` runs more.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        prop_assert_eq!(check_ranges(&s), Ok(()));
    }

    #[test]
    fn markdownish_text_never_panics(s in markdownish()) {
        prop_assert_eq!(check_ranges(&s), Ok(()));
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..SOURCES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..12),
    ) {
        let mut bytes = SOURCES[which].as_bytes().to_vec();
        for (at, op, byte) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => bytes.push(byte),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        prop_assert_eq!(check_ranges(&text), Ok(()));
    }
}

#[test]
fn fixtures_and_seeds_have_valid_ranges() {
    for s in SOURCES {
        assert_eq!(check_ranges(s), Ok(()));
    }
}

/// A command's span starts with the command's first line, also on repaired pages
/// (scraper `|` lines, lost Markdown), so splicing edits lands in the right place.
#[test]
fn command_spans_point_at_their_text() {
    for s in SOURCES {
        let (rb, _) = parse(s);
        for step in &rb.steps {
            for c in &step.commands {
                // A prose value runs as its placeholder; the text holds the prose.
                let mut written = c.text.clone();
                for p in &step.placeholders {
                    if let Some(v) = &p.prose {
                        written = written.replace(&format!("<{}>", p.name), &v.text);
                    }
                }
                let at = s.get(c.span.clone()).expect("span within text");
                let first = at
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_end_matches('\\')
                    .trim();
                assert!(
                    !first.is_empty() && written.starts_with(first),
                    "step {}: span {:?} holds {at:?}, command is {:?}",
                    step.id,
                    c.span,
                    c.text
                );
            }
            for p in &step.placeholders {
                for sp in &p.spans {
                    // A prose value's span is the author's words.
                    let want = p
                        .prose
                        .as_ref()
                        .map_or(p.name.as_str(), |v| v.text.as_str());
                    assert!(
                        s.get(sp.clone()).is_some_and(|t| t.contains(want)),
                        "placeholder {} at {sp:?}",
                        p.name
                    );
                }
            }
        }
    }
}

/// Ids come from the heading path and the position within the section: adding a whole
/// incident elsewhere and editing prose leaves every existing step id unchanged.
#[test]
fn step_ids_survive_unrelated_edits() {
    let before = SOURCES[11];
    let after = before
        .replace(
            "## Incident: Node Down / Unresponsive",
            "## Incident: Brand New\n\n### Diagnosis\n\n```bash\nuptime\n```\n\n## Incident: Node Down / Unresponsive",
        )
        .replace("Clients cannot connect", "Clients cannot connect at all (edited)")
        .replace("### Prevention\n", "### Prevention\n\n```bash\ndf -h\n```\n");
    let (a, _) = parse(before);
    let (b, _) = parse(&after);
    assert_eq!(b.steps.len(), a.steps.len() + 2);
    for step in &a.steps {
        let same = b
            .steps
            .iter()
            .find(|s| s.script == step.script && s.title == step.title)
            .expect("step still there");
        assert_eq!(same.id, step.id);
    }
}
