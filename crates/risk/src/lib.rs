//! Command risk classification: shell text in, one risk level per command out, with reasons.
//!
//! This crate is a safety boundary. Its one promise: a command is never reported below the
//! level it deserves. Anything it does not understand is `unknown`, never `read`; parse errors
//! and wrappers (`sudo`, `ssh host '...'`, `bash -c`) can only raise a level, never lower it.
//! Pure: no I/O, no clock, no environment.

mod env;
mod fast;
mod shell;
mod sql;
mod table;
mod tools;

use serde::{Deserialize, Serialize};

pub use table::RULES_TEXT;

/// Stands for one value from outside the runbook (an alert label, a `--set` value) in a
/// script given to [`Classifier::classify`]. Callers replace every placeholder occurrence
/// with this word to ask where values land: wherever a second parser would read it (a
/// `sh -c` string, `eval`, ssh's remote command, an awk, sed or SQL program, `xargs`
/// input, `watch`'s command) the command is at least `unknown`, with rule
/// [`VALUE_REREAD_RULE`]; as a command name it is `unknown` as every unknown command is.
pub const VALUE_MARKER: &str = "__sitrep_value__";

/// The rule name of a reason raised by [`VALUE_MARKER`] in text a second parser reads.
pub const VALUE_REREAD_RULE: &str = "value-reread";

/// How much a command can change or lose. Ordered: `Read < Write < Unknown < Destructive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Only observes state.
    Read,
    /// Changes state in a way that can be undone or re-done (start, apply, write a file).
    Write,
    /// No rule knows the command: treat as possibly destructive, but say we do not know.
    Unknown,
    /// Loses data, availability or configuration (delete, stop, drop, rm, reboot).
    Destructive,
}

impl Level {
    /// The lowercase name used in JSON, rule tables and human output.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Unknown => "unknown",
            Level::Destructive => "destructive",
        }
    }

    /// Parses a lowercase level name.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            "unknown" => Some(Level::Unknown),
            "destructive" => Some(Level::Destructive),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a command got (at least) a level: which rule, on which text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Rule name, e.g. `kubectl delete`, `redirect`, `sql`, `wrapper:sudo`, `parse-error`.
    pub rule: String,
    /// The text the rule matched.
    pub matched: String,
    /// The level this reason asks for.
    pub level: Level,
}

/// One command of a script and its risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandRisk {
    /// The command's text as written in the script.
    pub text: String,
    /// Byte offsets of `text` in the classified script.
    pub span: std::ops::Range<usize>,
    /// The highest level among `reasons`.
    pub level: Level,
    /// Every rule that fired, in order.
    pub reasons: Vec<Reason>,
}

/// A whole script's risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptRisk {
    /// The maximum over `commands`; `Read` for an empty script.
    pub level: Level,
    /// Each command found, in source order.
    pub commands: Vec<CommandRisk>,
}

/// A site's extension: a command prefix in words (`stella evidence cleanup`) and its level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomRule {
    /// Words the command must start with (after wrappers such as `sudo` are looked through).
    #[serde(rename = "match")]
    pub prefix: String,
    /// The level of commands that match.
    pub level: Level,
    /// Why, shown in reasons.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The classifier: the builtin rule table plus a site's custom rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    // Shared by every classifier: parsing the table costs ~0.5 ms, classifying a step 1-3 us
    // (fast path) to ~20-90 us (tree-sitter), and a runbook with site rules builds its own
    // classifier.
    builtin: std::sync::Arc<table::Table>,
    custom: table::Table,
}

impl Classifier {
    /// The builtin rules only.
    pub fn builtin() -> Classifier {
        static BUILTIN: std::sync::OnceLock<std::sync::Arc<table::Table>> =
            std::sync::OnceLock::new();
        Classifier {
            builtin: std::sync::Arc::clone(
                BUILTIN.get_or_init(|| std::sync::Arc::new(table::builtin_rules())),
            ),
            custom: table::Table::default(),
        }
    }

    /// Builtin rules plus `custom`; custom rules win over builtin for the commands they match.
    pub fn with_custom(custom: &[CustomRule]) -> Classifier {
        let mut c = Classifier::builtin();
        c.custom = table::Table::new(custom.iter().filter_map(table::Rule::from_custom).collect());
        c
    }

    /// Classifies every command in `script`. Never panics; spans are byte offsets into `script`.
    pub fn classify(&self, script: &str) -> ScriptRisk {
        let commands = shell::classify_script(self, script, 0);
        let level = commands
            .iter()
            .map(|c| c.level)
            .max()
            .unwrap_or(Level::Read);
        ScriptRisk { level, commands }
    }
}

/// The level of a SQL query run as a query step (not through a shell client): the SQL
/// classifier's level per statement, with one stricter rule. A query step runs exactly
/// one statement inside a read-only transaction, so only a single reading statement
/// (`SELECT`, `WITH ... SELECT`, `VALUES`, `TABLE`, `SHOW`, `EXPLAIN` without
/// `ANALYZE`, `DESCRIBE`) is `read`; transaction control (`COMMIT` would end the
/// read-only transaction), `SET`, several statements or psql meta-commands are `unknown`
/// at least.
pub fn classify_sql_query(text: &str) -> (Level, Vec<Reason>) {
    let statements = sql::classify(text);
    let mut reasons: Vec<Reason> = statements
        .iter()
        .map(|s| Reason {
            rule: format!("sql:{}", s.keyword),
            matched: s.text.clone(),
            level: s.level,
        })
        .collect();
    let reading = [
        "select", "with", "values", "table", "show", "explain", "describe", "desc",
    ];
    if statements.len() != 1 {
        reasons.push(Reason {
            rule: "sql-query-statements".to_owned(),
            matched: format!("{} statements", statements.len()),
            level: Level::Unknown,
        });
    } else if let Some(s) = statements.first()
        && s.level == Level::Read
        && !reading.contains(&s.keyword.as_str())
    {
        reasons.push(Reason {
            rule: "sql-query-not-a-query".to_owned(),
            matched: s.text.clone(),
            level: Level::Unknown,
        });
    }
    let level = reasons
        .iter()
        .map(|r| r.level)
        .max()
        .unwrap_or(Level::Unknown);
    (level, reasons)
}

#[cfg(test)]
mod sql_query_tests {
    use super::{Level, classify_sql_query};

    #[test]
    fn only_one_reading_statement_is_read() {
        for read in [
            "SELECT 1",
            "select count(*) from orders where status = $1;",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "SHOW max_connections",
        ] {
            assert_eq!(classify_sql_query(read).0, Level::Read, "{read}");
        }
        for (text, at_least) in [
            ("INSERT INTO t VALUES (1)", Level::Write),
            ("DELETE FROM t", Level::Destructive),
            ("COMMIT", Level::Unknown),
            ("SET TRANSACTION READ WRITE", Level::Unknown),
            ("SELECT 1; DROP TABLE t", Level::Destructive),
            ("SELECT 1; SELECT 2", Level::Unknown),
            ("SELECT nextval('s')", Level::Write),
            ("", Level::Unknown),
        ] {
            assert!(classify_sql_query(text).0 >= at_least, "{text}");
        }
    }
}
