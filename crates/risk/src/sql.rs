//! SQL (and psql meta-command) statement splitting and per-statement levels.

use crate::Level;

/// One classified statement.
pub struct Statement {
    pub keyword: String,
    pub text: String,
    pub level: Level,
}

/// Splits `text` into statements (`;` outside quotes; psql `\` meta-commands end at the line)
/// and classifies each.
pub fn classify(text: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut buf = String::new();
    for line in text.lines() {
        let t = line.trim();
        let at_statement_start = split(&buf).last().is_none_or(|s| s.trim().is_empty());
        if t.starts_with('\\') && at_statement_start {
            out.push(meta(t));
            continue;
        }
        if t.starts_with('.') && at_statement_start {
            out.push(dot(t));
            continue;
        }
        buf.push_str(line);
        buf.push('\n');
    }
    for st in split(&buf) {
        let st = strip_comments(&st);
        let st = st.trim();
        if !st.is_empty() {
            out.push(statement(st));
        }
    }
    out
}

fn meta(t: &str) -> Statement {
    let cmd = t.split_whitespace().next().unwrap_or("\\");
    let name = cmd.trim_start_matches('\\');
    let level = match name {
        n if n.starts_with('d') => Level::Read,
        "l" | "l+" | "x" | "timing" | "conninfo" | "q" | "c" | "connect" | "pset" | "echo"
        | "set" | "encoding" | "h" | "?" | "watch" | "z" | "sf" | "sv" => Level::Read,
        "copy" => Level::Write,
        _ => Level::Unknown,
    };
    Statement {
        keyword: cmd.to_string(),
        text: t.to_string(),
        level,
    }
}

/// sqlite3 dot-commands.
fn dot(t: &str) -> Statement {
    let cmd = t.split_whitespace().next().unwrap_or(".");
    let level = match cmd {
        ".tables" | ".schema" | ".indexes" | ".indices" | ".dbinfo" | ".headers" | ".header"
        | ".mode" | ".quit" | ".exit" | ".dump" | ".databases" | ".show" | ".timer" | ".width"
        | ".help" | ".fullschema" | ".stats" | ".lint" | ".eqp" | ".expert" => Level::Read,
        ".backup" | ".output" | ".once" | ".save" | ".import" | ".clone" => Level::Write,
        ".restore" => Level::Destructive,
        _ => Level::Unknown,
    };
    Statement {
        keyword: cmd.to_string(),
        text: t.to_string(),
        level,
    }
}

fn split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for ch in s.chars() {
        match (quote, ch) {
            (None, '\'' | '"' | '`') => {
                quote = Some(ch);
                cur.push(ch);
            }
            (Some(q), _) if q == ch => {
                quote = None;
                cur.push(ch);
            }
            (None, ';') => out.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    out.push(cur);
    out
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
    }
    out
}

const DESTRUCTIVE_FUNCS: &[&str] = &[
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_drop_replication_slot",
    "pg_promote",
    "lo_unlink",
    "pg_replication_origin_drop",
];
const WRITE_FUNCS: &[&str] = &[
    "pg_reload_conf",
    "pg_switch_wal",
    "pg_create_",
    "setval",
    "nextval",
    "pg_rotate_logfile",
    "set_config",
    "pg_stat_reset",
    "pg_advisory_lock",
];

fn statement(st: &str) -> Statement {
    let upper = st.to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let first = words.first().copied().unwrap_or("");
    let lower = st.to_ascii_lowercase();
    let has = |k: &str| words.contains(&k);
    let mut level = match first {
        "START" if !has("TRANSACTION") => Level::Write,
        "RESET" if has("MASTER") || has("SLAVE") || has("REPLICA") || has("BINARY") => {
            Level::Destructive
        }
        "STOP" => Level::Destructive,
        "CHANGE" => Level::Write,
        "SELECT" | "VALUES" | "TABLE" | "SHOW" | "DESCRIBE" | "DESC" | "BEGIN" | "COMMIT"
        | "ROLLBACK" | "START" | "USE" | "LIST" | "CONSISTENCY" | "TRACING" | "PAGING"
        | "EXISTS" | "CHECK" | "ABORT" | "END" => Level::Read,
        "EXPLAIN" if has("ANALYZE") || has("ANALYSE") => explain_analyze(&words),
        "EXPLAIN" => Level::Read,
        "SET" | "RESET" if has("GLOBAL") || has("PERSIST") => Level::Write,
        "SET" | "RESET" => Level::Read,
        "INSERT" | "UPDATE" | "CREATE" | "REPLACE" | "MERGE" | "GRANT" | "REVOKE" | "COPY"
        | "LOCK" | "REFRESH" | "REINDEX" | "ANALYZE" | "ANALYSE" | "CLUSTER" | "CHECKPOINT"
        | "COMMENT" | "CALL" | "NOTIFY" | "LISTEN" | "FLUSH" | "OPTIMIZE" | "ATTACH" | "RENAME"
        | "SYSTEM" | "UPSERT" | "LOAD" => Level::Write,
        "DELETE" | "DROP" | "TRUNCATE" | "VACUUM" | "ALTER" | "KILL" | "DETACH" | "PURGE"
        | "DISCARD" => Level::Destructive,
        "WITH" => {
            if has("DELETE") || has("TRUNCATE") || has("DROP") {
                Level::Destructive
            } else if has("INSERT") || has("UPDATE") || has("MERGE") {
                Level::Write
            } else if has("SELECT") {
                Level::Read
            } else {
                Level::Unknown
            }
        }
        "PRAGMA" => pragma(&lower),
        _ => Level::Unknown,
    };
    if level < Level::Destructive && DESTRUCTIVE_FUNCS.iter().any(|f| lower.contains(f)) {
        level = Level::Destructive;
    } else if level < Level::Write && WRITE_FUNCS.iter().any(|f| lower.contains(f)) {
        level = Level::Write;
    }
    if level < Level::Write && first == "SELECT" && has("INTO") {
        level = Level::Write;
    }
    Statement {
        keyword: first.to_ascii_lowercase(),
        text: st.to_string(),
        level,
    }
}

/// `EXPLAIN ANALYZE` executes the statement it explains.
fn explain_analyze(words: &[&str]) -> Level {
    let verb = words.iter().find(|w| {
        !matches!(
            **w,
            "EXPLAIN"
                | "ANALYZE"
                | "ANALYSE"
                | "VERBOSE"
                | "BUFFERS"
                | "FORMAT"
                | "JSON"
                | "TEXT"
                | "COSTS"
                | "TIMING"
                | "TRUE"
                | "FALSE"
                | "ON"
                | "OFF"
        )
    });
    match verb.copied() {
        Some("SELECT") => Level::Read,
        Some("INSERT" | "UPDATE") => Level::Write,
        Some("DELETE") => Level::Destructive,
        _ => Level::Unknown,
    }
}

fn pragma(lower: &str) -> Level {
    let body = lower.trim_start_matches("pragma").trim();
    let name: String = body
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let name = name.rsplit('.').next().unwrap_or("");
    const READ: &[&str] = &[
        "integrity_check",
        "quick_check",
        "key",
        "cipher_compatibility",
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "database_list",
        "compile_options",
        "page_count",
        "page_size",
        "freelist_count",
        "table_list",
        "function_list",
        "collation_list",
        "pragma_list",
        "module_list",
    ];
    if name == "rekey" {
        return Level::Destructive;
    }
    if name == "wal_checkpoint"
        || name == "optimize"
        || name == "incremental_vacuum"
        || name == "shrink_memory"
    {
        return if name == "incremental_vacuum" {
            Level::Destructive
        } else {
            Level::Write
        };
    }
    if READ.contains(&name) {
        return Level::Read;
    }
    if body.contains('=') {
        Level::Write
    } else if body.contains('(') {
        Level::Unknown
    } else {
        Level::Read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(s: &str) -> Vec<Level> {
        classify(s).into_iter().map(|s| s.level).collect()
    }

    #[test]
    fn statements_are_split_and_classified() {
        assert_eq!(
            levels("SELECT 1; DELETE FROM t"),
            vec![Level::Read, Level::Destructive]
        );
        assert_eq!(levels("select ';drop'"), vec![Level::Read]);
        assert_eq!(
            levels("\\dt\nSELECT pg_terminate_backend(1);"),
            vec![Level::Read, Level::Destructive]
        );
        assert_eq!(
            levels(
                "PRAGMA integrity_check; PRAGMA journal_mode=WAL; PRAGMA wal_checkpoint(TRUNCATE)"
            ),
            vec![Level::Read, Level::Write, Level::Write]
        );
        assert_eq!(
            levels("EXPLAIN ANALYZE DELETE FROM t"),
            vec![Level::Destructive]
        );
        assert_eq!(levels("frobnicate"), vec![Level::Unknown]);
    }
}
