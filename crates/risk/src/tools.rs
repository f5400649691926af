//! Word-level classification of one simple command: wrappers looked through, tool-specific
//! handlers (HTTP, SQL, redis-cli, find, dd, tee), then the rule table.

use crate::shell::classify_script;
use crate::table;
use crate::{Classifier, Level, Reason};

mod clients;
use clients::{http, redis, sql_client};

/// A command's level and the reasons for it.
pub struct Outcome {
    pub level: Level,
    pub reasons: Vec<Reason>,
}

impl Outcome {
    fn new(reasons: Vec<Reason>) -> Outcome {
        let level = reasons.iter().map(|r| r.level).max().unwrap_or(Level::Read);
        Outcome { level, reasons }
    }
    fn one(rule: &str, matched: &str, level: Level) -> Outcome {
        Outcome::new(vec![reason(rule, matched, level)])
    }
}

fn reason(rule: &str, matched: &str, level: Level) -> Reason {
    Reason {
        rule: rule.to_string(),
        matched: matched.to_string(),
        level,
    }
}

fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

/// Index of the first word at or after `start` that is not an option; options listed in
/// `with_value` consume the next word too. `--` ends options.
fn skip_opts(words: &[String], start: usize, with_value: &[&str]) -> usize {
    let mut i = start;
    while let Some(w) = words.get(i) {
        if w == "--" {
            return i + 1;
        }
        if !w.starts_with('-') || w.len() < 2 {
            return i;
        }
        i += if with_value.contains(&w.as_str()) {
            2
        } else {
            1
        };
    }
    i
}

/// Classifies one simple command given as unquoted words; `stdin` is a heredoc/herestring.
pub fn classify_words(
    c: &Classifier,
    words: &[String],
    stdin: Option<&str>,
    depth: usize,
) -> Outcome {
    let Some(first) = words.first() else {
        return Outcome::new(Vec::new());
    };
    if depth > 12 {
        return Outcome::one("nesting too deep", &words.join(" "), Level::Unknown);
    }
    // `$(which rm)` / `` `command -v rm` `` name a command we can still see.
    let resolved = resolve_lookup(first);
    let name = basename(resolved.unwrap_or(first));
    // The words with the command name normalised (`/usr/bin/rm` -> `rm`); borrowed when
    // it already is.
    let norm: std::borrow::Cow<'_, [String]> = if name == first.as_str() {
        std::borrow::Cow::Borrowed(words)
    } else {
        let mut v = words.to_vec();
        if let Some(f) = v.first_mut() {
            *f = name.to_string();
        }
        std::borrow::Cow::Owned(v)
    };
    if let Some(l) = table::lookup(&c.custom, &norm[..]) {
        let matched = words.join(" ");
        return Outcome::new(
            l.rules
                .iter()
                .map(|r| reason(r, &matched, l.level))
                .collect(),
        );
    }
    if name.is_empty() || name.contains(['$', '`']) {
        return Outcome::one("dynamic command name", first, Level::Unknown);
    }
    let d = depth + 1;
    match name {
        "sudo" | "doas" => wrapper(
            c,
            words,
            name,
            skip_opts(
                words,
                1,
                &[
                    "-u", "-g", "-C", "-h", "-p", "-r", "-t", "-U", "-D", "--user", "--group",
                ],
            ),
            stdin,
            d,
        ),
        "env" => {
            let mut i = skip_opts(words, 1, &["-u", "-C", "--unset", "--chdir", "-S"]);
            while words
                .get(i)
                .is_some_and(|w| w.contains('=') && !w.starts_with('='))
            {
                i += 1;
            }
            wrapper(c, words, name, i, stdin, d)
        }
        "timeout" => {
            let i = skip_opts(words, 1, &["-s", "-k", "--signal", "--kill-after"]);
            wrapper(c, words, name, i + 1, stdin, d)
        }
        "nice" => wrapper(
            c,
            words,
            name,
            skip_opts(words, 1, &["-n", "--adjustment"]),
            stdin,
            d,
        ),
        "ionice" => wrapper(
            c,
            words,
            name,
            skip_opts(words, 1, &["-c", "-n", "--class", "--classdata"]),
            stdin,
            d,
        ),
        "nohup" | "exec" | "command" | "builtin" | "unbuffer" => {
            wrapper(c, words, name, skip_opts(words, 1, &[]), stdin, d)
        }
        "time" => wrapper(
            c,
            words,
            name,
            skip_opts(words, 1, &["-f", "--format"]),
            stdin,
            d,
        ),
        "stdbuf" => wrapper(
            c,
            words,
            name,
            skip_opts(words, 1, &["-i", "-o", "-e"]),
            stdin,
            d,
        ),
        "watch" => {
            // watch hands its words, joined, to `sh -c`.
            let i = skip_opts(words, 1, &["-n", "--interval", "-q"]);
            match words.get(i..).filter(|r| !r.is_empty()) {
                Some(rest) => nested(c, "watch", &rest.join(" "), d),
                None => Outcome::one("watch without a command", &words.join(" "), Level::Unknown),
            }
        }
        "chroot" => wrapper(
            c,
            words,
            name,
            skip_opts(words, 1, &["--userspec", "--groups"]) + 1,
            stdin,
            d,
        ),
        "nsenter" => wrapper(
            c,
            words,
            name,
            skip_opts(
                words,
                1,
                &["-t", "--target", "-S", "-G", "--setuid", "--setgid"],
            ),
            stdin,
            d,
        ),
        "xargs" => {
            let i = skip_opts(
                words,
                1,
                &[
                    "-I",
                    "-i",
                    "-n",
                    "-P",
                    "-L",
                    "-d",
                    "-E",
                    "-s",
                    "-a",
                    "--arg-file",
                    "--delimiter",
                    "--max-args",
                    "--max-procs",
                    "--replace",
                ],
            );
            if i >= words.len() {
                // xargs with no command runs echo.
                Outcome::one("xargs (echo)", &words.join(" "), Level::Read)
            } else {
                wrapper(c, words, name, i, stdin, d)
            }
        }
        "bash" | "sh" | "zsh" | "dash" | "ksh" | "ash" => shell(c, words, stdin, d),
        "ssh" => ssh(c, words, stdin, d),
        "kubectl" | "oc" if positional(words, 1).as_deref() == Some("exec") => {
            match words.iter().position(|w| w == "--") {
                Some(i) => wrapper(c, words, "kubectl exec", i + 1, stdin, d),
                None => Outcome::one("kubectl exec without --", &words.join(" "), Level::Unknown),
            }
        }
        "docker" | "podman" | "docker-compose" | "nerdctl" => {
            container_exec(c, words, stdin, d).unwrap_or_else(|| by_table(c, &norm[..]))
        }
        "curl" | "wget" | "http" | "https" | "xh" | "xhs" => http(name, words),
        "psql" | "sqlite3" | "mysql" | "mariadb" | "clickhouse-client" | "cqlsh" => {
            sql_client(name, words, stdin)
        }
        "redis-cli" | "valkey-cli" => redis(c, words),
        "find" => find(c, &norm[..], d),
        "dd" => dd(words),
        "tee" => tee(words),
        // `mount` alone lists mounts; with arguments it mounts (table rule).
        "mount" if words.len() == 1 => Outcome::one("mount (list)", "mount", Level::Read),
        _ => by_table(c, &norm[..]),
    }
}

/// `$(which X)`, `$(command -v X)` and their backtick forms resolve to `X`.
fn resolve_lookup(w: &str) -> Option<&str> {
    let inner = w
        .strip_prefix("$(")
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| w.strip_prefix('`').and_then(|r| r.strip_suffix('`')))?;
    let inner = inner.trim();
    let name = inner
        .strip_prefix("which ")
        .or_else(|| inner.strip_prefix("command -v "))?
        .trim();
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// The first positional word at or after `start` (skipping `-x value` pairs conservatively is
/// not possible without knowing the tool, so this only skips flags).
fn positional(words: &[String], start: usize) -> Option<String> {
    words
        .iter()
        .skip(start)
        .find(|w| !w.starts_with('-'))
        .cloned()
}

fn by_table(c: &Classifier, words: &[String]) -> Outcome {
    match table::lookup(&c.builtin, words) {
        Some(l) => {
            let matched = words.join(" ");
            Outcome::new(
                l.rules
                    .iter()
                    .map(|r| reason(r, &matched, l.level))
                    .collect(),
            )
        }
        None => Outcome::one(
            "no rule",
            words.first().map_or("", String::as_str),
            Level::Unknown,
        ),
    }
}

/// A wrapper runs `words[inner..]`; it adds a read-level note and never lowers the inner level.
fn wrapper(
    c: &Classifier,
    words: &[String],
    name: &str,
    inner: usize,
    stdin: Option<&str>,
    depth: usize,
) -> Outcome {
    let rest = words.get(inner..).unwrap_or(&[]);
    if rest.is_empty() {
        return Outcome::one(
            &format!("wrapper:{name} without a command"),
            &words.join(" "),
            Level::Unknown,
        );
    }
    let mut reasons = vec![reason(&format!("wrapper:{name}"), name, Level::Read)];
    reasons.extend(classify_words(c, rest, stdin, depth).reasons);
    Outcome::new(reasons)
}

/// The reasons of a nested script, each pointing at its inner command's text.
fn nested(c: &Classifier, rule: &str, script: &str, depth: usize) -> Outcome {
    nested_with_stdin(c, rule, script, None, depth)
}

/// Like [`nested`], but the outer command's heredoc feeds the nested script's stdin: it is
/// re-attached as a heredoc so `ssh db 'psql' <<SQL ... SQL` still sees the SQL.
fn nested_with_stdin(
    c: &Classifier,
    rule: &str,
    script: &str,
    stdin: Option<&str>,
    depth: usize,
) -> Outcome {
    let mut reasons = vec![reason(rule, script, Level::Read)];
    let full = match stdin {
        Some(input) if !script.contains('\n') => {
            format!("{script} <<'__SITREP_STDIN__'\n{input}\n__SITREP_STDIN__\n")
        }
        _ => script.to_string(),
    };
    for cmd in classify_script(c, &full, depth) {
        reasons.extend(cmd.reasons);
    }
    Outcome::new(reasons)
}

fn shell(c: &Classifier, words: &[String], stdin: Option<&str>, depth: usize) -> Outcome {
    let name = basename(words.first().map_or("", String::as_str)).to_string();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if w.starts_with('-') && !w.starts_with("--") && w.contains('c') {
            return match words.get(i + 1) {
                Some(script) => nested_with_stdin(c, &format!("{name} -c"), script, stdin, depth),
                None => Outcome::one(
                    &format!("{name} -c without a script"),
                    &words.join(" "),
                    Level::Unknown,
                ),
            };
        }
        if w.starts_with('-') {
            i += if w == "-o" || w == "+o" { 2 } else { 1 };
            continue;
        }
        // `bash script.sh`: the script's text is not in front of us.
        return Outcome::one(
            &format!("{name} runs a script file"),
            &words.join(" "),
            Level::Unknown,
        );
    }
    match stdin {
        Some(s) => nested(c, &format!("{name} <<heredoc"), s, depth),
        None => Outcome::one(
            &format!("interactive {name}"),
            &words.join(" "),
            Level::Unknown,
        ),
    }
}

fn ssh(c: &Classifier, words: &[String], stdin: Option<&str>, depth: usize) -> Outcome {
    let with_value = [
        "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p",
        "-Q", "-R", "-S", "-W", "-w", "-B", "-P",
    ];
    let host = skip_opts(words, 1, &with_value);
    let rest = words.get(host + 1..).unwrap_or(&[]);
    if rest.is_empty() {
        return match stdin {
            Some(s) => nested(c, "ssh <<heredoc", s, depth),
            None => Outcome::one("interactive ssh", &words.join(" "), Level::Unknown),
        };
    }
    // ssh joins the remaining words with spaces and hands them to the remote shell.
    nested_with_stdin(c, "ssh remote command", &rest.join(" "), stdin, depth)
}

fn container_exec(
    c: &Classifier,
    words: &[String],
    stdin: Option<&str>,
    depth: usize,
) -> Option<Outcome> {
    let opts = [
        "-e",
        "--env",
        "--env-file",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--detach-keys",
        "--index",
    ];
    let mut i = 1;
    if basename(words.first()?) != "docker-compose" && words.get(1).is_some_and(|w| w == "compose")
    {
        // `docker compose [-f file] [-p project] exec`.
        i = skip_opts(
            words,
            2,
            &[
                "-f",
                "--file",
                "-p",
                "--project-name",
                "--env-file",
                "--profile",
            ],
        );
    } else if basename(words.first()?) == "docker-compose" {
        i = skip_opts(
            words,
            1,
            &[
                "-f",
                "--file",
                "-p",
                "--project-name",
                "--env-file",
                "--profile",
            ],
        );
    }
    if words.get(i)? != "exec" {
        return None;
    }
    let target = skip_opts(words, i + 1, &opts);
    Some(wrapper(c, words, "exec", target + 1, stdin, depth))
}

fn find(c: &Classifier, words: &[String], depth: usize) -> Outcome {
    let mut reasons = by_table(c, words).reasons;
    let mut i = 0;
    while let Some(w) = words.get(i) {
        if matches!(w.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            let start = i + 1;
            let mut end = start;
            while words
                .get(end)
                .is_some_and(|x| x != ";" && x != "+" && x != "\\;")
            {
                end += 1;
            }
            let inner = words.get(start..end).unwrap_or(&[]);
            reasons.push(reason(&format!("find {w}"), &inner.join(" "), Level::Read));
            reasons.extend(classify_words(c, inner, None, depth).reasons);
            i = end;
        }
        i += 1;
    }
    Outcome::new(reasons)
}

fn dd(words: &[String]) -> Outcome {
    let mut reasons = vec![reason("dd", "dd", Level::Read)];
    for w in words {
        if let Some(of) = w.strip_prefix("of=")
            && of != "/dev/null"
        {
            reasons.push(reason("dd of=", w, Level::Destructive));
        }
    }
    Outcome::new(reasons)
}

fn tee(words: &[String]) -> Outcome {
    let mut reasons = vec![reason("tee", "tee", Level::Read)];
    for w in words.iter().skip(1) {
        if !w.starts_with('-') && !matches!(w.as_str(), "/dev/null" | "/dev/stdout" | "/dev/stderr")
        {
            reasons.push(reason("tee FILE", w, Level::Write));
        }
    }
    Outcome::new(reasons)
}
