//! Lint `query-in-shell`: a shell command that only runs a query (curl to Prometheus' or
//! Loki's query API, `logcli query`, `promtool query`, `psql -c "SELECT ..."`,
//! `mysql -e "SELECT ..."`) would run as a query step in a fenced `promql`, `logql` or
//! `sql` block: bound values as data, a read-only transaction, the result as evidence.

use crate::model::Step;

/// The tag a command's query belongs under, and what the command is, for the first
/// command of `step` that runs a query. Only read steps: a `SELECT` that calls a function
/// with side effects (`pg_drop_replication_slot`) is no query step either.
pub(crate) fn query_in_shell(step: &Step) -> Option<(&'static str, &'static str)> {
    if step.risk.level != sitrep_risk::Level::Read {
        return None;
    }
    step.commands.iter().find_map(|c| query_command(&c.text))
}

fn query_command(text: &str) -> Option<(&'static str, &'static str)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let tool = |name: &str| {
        words
            .iter()
            .position(|w| w.rsplit('/').next() == Some(name))
    };
    let lower = text.to_ascii_lowercase();
    if tool("curl").or_else(|| tool("wget")).is_some() {
        if lower.contains("/loki/api/v1/query") {
            return Some(("logql", "a curl to Loki's query API"));
        }
        if lower.contains("/api/v1/query") {
            return Some(("promql", "a curl to Prometheus' query API"));
        }
    }
    if let Some(i) = tool("logcli")
        && words.get(i + 1..).is_some_and(|w| w.contains(&"query"))
    {
        return Some(("logql", "`logcli query`"));
    }
    if let Some(i) = tool("promtool")
        && words.get(i + 1) == Some(&"query")
    {
        return Some(("promql", "`promtool query`"));
    }
    let select = |flags: &[&str]| {
        words.windows(2).any(|w| {
            flags.contains(&w[0])
                && w[1]
                    .trim_start_matches(['"', '\''])
                    .to_ascii_lowercase()
                    .starts_with("select")
        })
    };
    if tool("psql").is_some() && select(&["-c", "--command"]) {
        return Some(("sql", "`psql -c` with a SELECT"));
    }
    if (tool("mysql").is_some() || tool("mariadb").is_some()) && select(&["-e", "--execute"]) {
        return Some(("sql", "`mysql -e` with a SELECT"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::query_command;

    #[test]
    fn query_commands() {
        for (cmd, tag) in [
            ("curl -s 'http://prom:9090/api/v1/query?query=up'", "promql"),
            (
                "curl -G http://loki:3100/loki/api/v1/query_range --data-urlencode 'query={app=\"x\"}'",
                "logql",
            ),
            ("logcli query '{app=\"api\"} |= \"error\"'", "logql"),
            ("promtool query instant http://prom:9090 up", "promql"),
            (
                "psql -h db -c \"SELECT count(*) FROM pg_stat_activity\"",
                "sql",
            ),
            ("kubectl exec db-0 -- psql -c 'select 1'", "sql"),
            ("mysql -uroot -e \"SELECT 1\"", "sql"),
        ] {
            assert_eq!(query_command(cmd).map(|q| q.0), Some(tag), "{cmd}");
        }
        for cmd in [
            "curl -s http://svc/healthz",
            "psql -c 'VACUUM'",
            "psql -f report.sql",
            "echo /api/v1/query",
        ] {
            assert_eq!(query_command(cmd), None, "{cmd}");
        }
    }
}
