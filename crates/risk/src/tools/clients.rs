//! Handlers for client tools whose risk lives in their arguments: HTTP clients, SQL clients
//! and redis-cli.

use super::wrappers::value_reread;
use super::{Outcome, by_table, reason, skip_opts};
use crate::{Classifier, Level, sql};

/// `-sSLo FILE` -> `-s -S -L -o FILE`: a letter in `value_letters` ends the cluster and the
/// rest of the word is its value (`-XPOST`, `-qO-`).
fn split_clusters(words: &[String], value_letters: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        let body = w
            .strip_prefix('-')
            .filter(|b| !b.starts_with('-') && b.len() > 1);
        let Some(body) = body.filter(|b| b.starts_with(|c: char| c.is_ascii_alphabetic())) else {
            out.push(w.clone());
            continue;
        };
        for (k, ch) in body.char_indices() {
            out.push(format!("-{ch}"));
            if value_letters.contains(ch) {
                let rest = body.get(k + ch.len_utf8()..).unwrap_or("");
                if !rest.is_empty() {
                    out.push(rest.to_string());
                }
                break;
            }
        }
    }
    out
}

pub(super) fn http(name: &str, words: &[String]) -> Outcome {
    let matched = words.join(" ");
    let mut reasons = vec![reason(&format!("{name} (GET)"), &matched, Level::Read)];
    let is_wget = name == "wget";
    let is_httpie = !is_wget && name != "curl";
    let split;
    let words = match name {
        "curl" => {
            split = split_clusters(words, "AbcCdDeEFHKmoPQrtTuUwxXyYz");
            &split[..]
        }
        "wget" => {
            split = split_clusters(words, "aABeilOoPQRtTUwDIX");
            &split[..]
        }
        _ => words,
    };
    let mut output_to_stdout = false;
    let mut method: Option<String> = None;
    let mut positionals = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        let next = words.get(i + 1).cloned().unwrap_or_default();
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if w.starts_with("--") => (f, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let mut value = || {
            inline.clone().unwrap_or_else(|| {
                i += 1;
                next.clone()
            })
        };
        match flag {
            "-X" | "--request" | "--method" => method = Some(value().to_ascii_uppercase()),
            f if !is_httpie && f.starts_with("-X") && f.len() > 2 => {
                method = Some(f.get(2..).unwrap_or("").to_ascii_uppercase());
            }
            "-d" | "--data" | "--data-raw" | "--data-binary" | "--data-urlencode"
            | "--data-ascii" | "--json" | "-F" | "--form" | "--form-string" | "-T"
            | "--upload-file" | "--post-data" | "--post-file" | "--body-data" | "--body-file" => {
                if !(is_httpie && matches!(flag, "-F" | "--form" | "-d")) {
                    let _ = value();
                }
                reasons.push(reason("http body", w, Level::Write));
            }
            "-o" | "--output" | "-O" | "--output-document" | "--download" => {
                if is_wget && flag == "-O"
                    || flag == "-o"
                    || flag == "--output"
                    || flag == "--output-document"
                {
                    let v = value();
                    if matches!(v.as_str(), "-" | "/dev/null" | "/dev/stdout") {
                        output_to_stdout = true;
                    } else {
                        reasons.push(reason("http output file", &v, Level::Write));
                    }
                } else {
                    reasons.push(reason("http output file", w, Level::Write));
                }
            }
            "--spider" | "-q" | "--quiet" | "-qO-" => {
                if flag == "-qO-" {
                    output_to_stdout = true;
                }
                if flag == "--spider" {
                    output_to_stdout = true;
                }
            }
            "-H" | "--header" | "-u" | "--user" | "-w" | "--write-out" | "-A" | "--user-agent"
            | "-e" | "--referer" | "--cacert" | "--cert" | "--key" | "-m" | "--max-time"
            | "--connect-timeout" | "-b" | "--cookie" | "--resolve" | "-x" | "--proxy"
            | "--retry" | "-a" | "--auth" | "--timeout" | "-r" | "--range" => {
                let _ = value();
            }
            "-D" | "--dump-header" | "--trace" | "--trace-ascii" | "--libcurl" | "--etag-save"
                if !is_httpie && !is_wget =>
            {
                let v = value();
                if !matches!(
                    v.as_str(),
                    "-" | "%" | "/dev/null" | "/dev/stdout" | "/dev/stderr"
                ) {
                    reasons.push(reason("http writes a file", &v, Level::Write));
                }
            }
            "-c" | "--cookie-jar" if !is_httpie && !is_wget => {
                let v = value();
                reasons.push(reason("http cookie jar file", &v, Level::Write));
            }
            f if f.starts_with('-') => {}
            _ => positionals.push(w.clone()),
        }
        i += 1;
    }
    if is_httpie {
        let meth = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        let mut items = positionals.iter();
        if let Some(first) = positionals.first()
            && meth.contains(&first.as_str())
        {
            method = Some(first.clone());
            items.next();
        }
        items.next(); // URL
        for item in items {
            let data = (item.contains('=') && !item.contains("=="))
                || item.contains(":=")
                || item.contains('@');
            if data && method.is_none() {
                reasons.push(reason("http body", item, Level::Write));
            }
        }
    }
    if is_wget && !output_to_stdout && !reasons.iter().any(|r| r.rule == "http output file") {
        reasons.push(reason("wget saves a file", &matched, Level::Write));
    }
    if let Some(m) = method {
        let level = match m.as_str() {
            "GET" | "HEAD" | "OPTIONS" => Level::Read,
            "POST" | "PUT" | "PATCH" => Level::Write,
            "DELETE" => Level::Destructive,
            _ => Level::Unknown,
        };
        reasons.push(reason(&format!("http {m}"), &m, level));
    }
    Outcome::new(reasons)
}

pub(super) fn sql_client(name: &str, words: &[String], stdin: Option<&str>) -> Outcome {
    let matched = words.join(" ");
    let mut sqls: Vec<String> = Vec::new();
    let mut reasons = Vec::new();
    let mut listing = false;
    let (exec_flags, value_flags): (&[&str], &[&str]) = match name {
        "psql" => (
            &["-c", "--command"],
            &[
                "-h",
                "--host",
                "-p",
                "--port",
                "-U",
                "--username",
                "-d",
                "--dbname",
                "-v",
                "--set",
                "--variable",
                "-P",
                "--pset",
                "-F",
                "-R",
                "-T",
                "-L",
                "--log-file",
            ],
        ),
        "mysql" | "mariadb" => (
            &["-e", "--execute"],
            &[
                "-h",
                "--host",
                "-P",
                "--port",
                "-u",
                "--user",
                "-D",
                "--database",
                "-S",
                "--socket",
                "--default-character-set",
            ],
        ),
        "clickhouse-client" => (
            &["-q", "--query"],
            &[
                "-h",
                "--host",
                "--port",
                "-u",
                "--user",
                "-d",
                "--database",
                "--password",
                "--format",
                "-f",
            ],
        ),
        "cqlsh" => (
            &["-e", "--execute"],
            &[
                "-u",
                "--username",
                "-p",
                "--password",
                "-k",
                "--keyspace",
                "--cqlversion",
                "--request-timeout",
                "--connect-timeout",
            ],
        ),
        _ => (
            &["-cmd"],
            &["-separator", "-nullvalue", "-newline", "-init"],
        ),
    };
    let mut positionals = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if w.starts_with("--") => (f, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let next = words.get(i + 1).cloned();
        if exec_flags.contains(&flag) {
            if let Some(v) = inline.or_else(|| {
                i += 1;
                next
            }) {
                sqls.push(v);
            }
        } else if name != "sqlite3"
            && exec_flags.iter().any(|e| {
                e.len() == 2 && flag.starts_with(e) && flag.len() > 2 && !flag.starts_with("--")
            })
        {
            // `-e"SELECT 1"` / `-cSELECT`.
            sqls.push(flag.get(2..).unwrap_or("").to_string());
        } else if matches!(flag, "-f" | "--file" | "-i" | "-init" | "--init-file")
            && name != "clickhouse-client"
        {
            reasons.push(reason("sql from a file", w, Level::Unknown));
            let file = inline.as_deref().or(next.as_deref()).unwrap_or("");
            reasons.extend(value_reread(file));
            if inline.is_none() {
                i += 1;
            }
        } else if matches!(flag, "-o" | "--output") && name == "psql" {
            reasons.push(reason("psql output file", w, Level::Write));
            if inline.is_none() {
                i += 1;
            }
        } else if matches!(flag, "-l" | "--list") && name == "psql" {
            listing = true;
        } else if value_flags.contains(&flag) {
            if matches!(flag, "-v" | "--set" | "--variable") && name == "psql" {
                // psql pastes `:name` into the SQL text unquoted.
                let v = inline.as_deref().or(next.as_deref()).unwrap_or("");
                reasons.extend(value_reread(v));
            }
            if inline.is_none() {
                i += 1;
            }
        } else if !w.starts_with('-') {
            positionals.push(w.clone());
        }
        i += 1;
    }
    if name == "sqlite3" && positionals.len() > 1 {
        sqls.push(positionals.get(1..).unwrap_or(&[]).join(" "));
    }
    if let Some(s) = stdin {
        sqls.push(s.to_string());
    }
    for s in &sqls {
        reasons.extend(value_reread(s));
        for st in sql::classify(s) {
            reasons.push(reason(&format!("sql {}", st.keyword), &st.text, st.level));
        }
    }
    if listing {
        reasons.push(reason("psql --list", &matched, Level::Read));
    }
    if reasons.is_empty() {
        reasons.push(reason(
            &format!("{name} without visible SQL"),
            &matched,
            Level::Unknown,
        ));
    }
    Outcome::new(reasons)
}

pub(super) fn redis(c: &Classifier, words: &[String]) -> Outcome {
    let with_value = [
        "-h",
        "-p",
        "-a",
        "-n",
        "-u",
        "-s",
        "--user",
        "--pass",
        "-r",
        "-i",
        "-d",
        "--pattern",
        "--count",
        "--tls-cert",
        "--cacert",
        "--key",
        "--cert",
        "--sni",
        "--rdb",
        "--functions-rdb",
    ];
    let matched = words.join(" ");
    let mut reasons = Vec::new();
    for (k, w) in words.iter().enumerate() {
        match w.as_str() {
            "--scan"
            | "--bigkeys"
            | "--memkeys"
            | "--hotkeys"
            | "--latency"
            | "--latency-history"
            | "--latency-dist"
            | "--stat"
            | "--intrinsic-latency" => {
                reasons.push(reason(&format!("redis-cli {w}"), w, Level::Read));
            }
            "--rdb" | "--functions-rdb" => {
                reasons.push(reason("redis-cli dump file", w, Level::Write))
            }
            "--pipe" | "--eval" => {
                reasons.push(reason(&format!("redis-cli {w}"), w, Level::Unknown));
                if let Some(file) = words.get(k + 1) {
                    reasons.extend(value_reread(file));
                }
            }
            "-x" => reasons.push(reason("redis-cli stdin argument", w, Level::Unknown)),
            _ => {}
        }
    }
    let i = skip_opts(words, 1, &with_value);
    match words.get(i) {
        Some(cmd) => {
            if matches!(
                cmd.to_ascii_lowercase().as_str(),
                "eval" | "eval_ro" | "evalsha" | "evalsha_ro" | "fcall" | "fcall_ro"
            ) {
                // A Lua script or function body runs server-side with full access.
                reasons.push(reason("redis-cli runs a script", &matched, Level::Unknown));
                reasons.extend(words.get(i + 1).and_then(|s| value_reread(s)));
            }
            let mut pseudo = vec!["redis".to_string(), cmd.to_ascii_lowercase()];
            pseudo.extend(words.iter().skip(i + 1).map(|w| w.to_ascii_lowercase()));
            let o = by_table(c, &pseudo);
            reasons.extend(o.reasons.into_iter().map(|mut r| {
                r.matched = matched.clone();
                r
            }));
        }
        None if reasons.is_empty() => {
            reasons.push(reason("interactive redis-cli", &matched, Level::Unknown))
        }
        None => {}
    }
    Outcome::new(reasons)
}
