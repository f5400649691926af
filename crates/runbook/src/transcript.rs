//! Console transcripts: blocks of prompts, the commands typed at them and the output
//! printed under them. The commands (prompts removed) become the step's script, the
//! output each command's example output, and database prompts (`db=#`, `mysql>`,
//! `redis>`) queries that are not shell at all. Risk is judged on the commands only.

use std::ops::Range;

/// The query language behind a database prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `psql`: `name=#`, `name=>` (and `name-#` continuations).
    Postgres,
    /// `mysql>`, `MariaDB [db]>` (and `->` continuations).
    Mysql,
    /// `redis>`, `127.0.0.1:6379>`.
    Redis,
}

impl Dialect {
    /// Its name in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "psql",
            Dialect::Mysql => "mysql",
            Dialect::Redis => "redis",
        }
    }

    /// The reference block kind of its queries.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Dialect::Postgres | Dialect::Mysql => "sql",
            Dialect::Redis => "redis",
        }
    }
}

/// What starts a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    Shell,
    /// A database prompt; `true` when it continues the previous query (`db-#`, `->`).
    Database(Dialect, bool),
}

/// The prompt at the start of `line` and the byte offset where the typed text begins
/// (after the prompt and one space). `root`: a bare `# ` is a root prompt.
fn prompt(line: &str, root: bool) -> Option<(Prompt, usize)> {
    let lead = line.len() - line.trim_start().len();
    let t = line.get(lead..)?;
    let after = |n: usize| {
        let rest = t.get(n..)?;
        if rest.is_empty() {
            Some(lead + n)
        } else if rest.starts_with([' ', '\t']) {
            Some(lead + n + 1)
        } else {
            None
        }
    };
    if t.starts_with('$') {
        return after(1).map(|o| (Prompt::Shell, o));
    }
    if root && t.starts_with('#') && !t.starts_with("#!") {
        return after(1).map(|o| (Prompt::Shell, o));
    }
    let word = t.split([' ', '\t']).next().unwrap_or("");
    if t.starts_with('[') {
        // `[user@host dir]$ `: the bracket holds `@`, the prompt sign follows it.
        let close = t.get(..t.len().min(120))?.find(']')?;
        let inner = t.get(1..close)?;
        let sign = t.get(close + 1..close + 2)?;
        if inner.contains('@') && (sign == "$" || sign == "#") {
            return after(close + 2).map(|o| (Prompt::Shell, o));
        }
        return None;
    }
    if let Some(p) = user_at_host(word) {
        return after(word.len())
            .map(|o| (p, o))
            .filter(|_| p == Prompt::Shell);
    }
    // Database prompts first: `app-#` is psql's continuation, not a host.
    if let Some((p, n)) = database(t, word) {
        return after(n).map(|o| (p, o));
    }
    host_prompt(t, word).and_then(|n| after(n).map(|o| (Prompt::Shell, o)))
}

/// `user@host:path$` / `root@host:~#` / `user@host$` as one word.
fn user_at_host(word: &str) -> Option<Prompt> {
    let body = word.strip_suffix('$').or_else(|| word.strip_suffix('#'))?;
    let (user, rest) = body.split_once('@')?;
    let host = rest.split_once(':').map_or(rest, |(h, _)| h);
    let name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    (name(user) && name(host)).then_some(Prompt::Shell)
}

/// `sh-4.4#` (an `oc debug` shell), `worker$`, and `db-01-gstg $` (a host name, a space,
/// then `$`): the length through the sign. A word ending in `$` or `#` is not shell a
/// person types, and neither is a host name followed by a lone `$`.
fn host_prompt(t: &str, word: &str) -> Option<usize> {
    let name = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    if let Some(body) = word.strip_suffix('$').or_else(|| word.strip_suffix('#'))
        && name(body)
    {
        return Some(word.len());
    }
    // `host $ cmd`: only with `$` (`ls # note` is a comment) and a name that is not a
    // plain word (`echo $ x`): it has a digit or a `-`.
    let rest = t.get(word.len()..)?;
    (name(word)
        && word.contains(|c: char| c.is_ascii_digit() || c == '-')
        && (rest.starts_with(" $ ") || rest == " $"))
        .then_some(word.len() + 2)
}

/// A database prompt at the start of `t` (whose first word is `word`): kind and length.
fn database(t: &str, word: &str) -> Option<(Prompt, usize)> {
    let lower = word.to_ascii_lowercase();
    let db = |d, cont, n| Some((Prompt::Database(d, cont), n));
    match lower.as_str() {
        "mysql>" | "mariadb>" | "redis>" => {
            let d = if lower == "redis>" {
                Dialect::Redis
            } else {
                Dialect::Mysql
            };
            db(d, false, word.len())
        }
        "->" => db(Dialect::Mysql, true, word.len()),
        "mariadb" | "mysql" => {
            // `MariaDB [(none)]> `
            let rest = t.get(word.len()..)?;
            let close = rest.get(..rest.len().min(80))?.find("]>")?;
            rest.trim_start().starts_with('[').then_some((
                Prompt::Database(Dialect::Mysql, false),
                word.len() + close + 2,
            ))
        }
        "redis" => {
            // `redis 127.0.0.1:6379> `
            let rest = t.get(word.len()..)?;
            let next = rest.trim_start().split([' ', '\t']).next()?;
            let n = word.len() + (rest.len() - rest.trim_start().len()) + next.len();
            redis_addr(next).then_some((Prompt::Database(Dialect::Redis, false), n))
        }
        _ if redis_addr(word) => db(Dialect::Redis, false, word.len()),
        _ => psql(word),
    }
}

/// `127.0.0.1:6379>`: redis-cli's prompt, a host and a port.
fn redis_addr(w: &str) -> bool {
    w.strip_suffix('>')
        .and_then(|a| a.rsplit_once(':'))
        .is_some_and(|(host, port)| {
            !host.is_empty()
                && !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        })
}

/// psql: `name=#`, `name=>`, continuations `name-#`, `name(#`, `name'#`, `name"#`.
fn psql(word: &str) -> Option<(Prompt, usize)> {
    let b = word.as_bytes();
    let (last, mark) = (*b.last()?, *b.get(b.len().checked_sub(2)?)?);
    let name = word.get(..b.len() - 2)?;
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !(last == b'#' || last == b'>') || !name_ok {
        return None;
    }
    let cont = match mark {
        b'=' => false,
        b'-' | b'(' | b'\'' | b'"' => true,
        _ => return None,
    };
    Some((Prompt::Database(Dialect::Postgres, cont), word.len()))
}

/// Whether a block is read as a transcript: always for `console` / `shell-session`,
/// and for shell or untagged blocks whose first line (after comments) starts with a
/// prompt. A `$ ` line further down, in a heredoc say, does not turn a script into one.
pub(crate) fn is_transcript(lang: &str, script: &str) -> bool {
    if matches!(lang, "console" | "shell-session" | "shellsession") {
        return true;
    }
    crate::text::is_shell_lang(lang)
        && script
            .lines()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .is_some_and(|l| prompt(l, false).is_some())
}

/// A query typed at a database prompt, with its lines in the block.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) dialect: Dialect,
    pub(crate) text: String,
    pub(crate) range: Range<usize>,
}

/// A transcript taken apart: the commands as a script (comment lines kept for
/// descriptions), where each script byte came from in the block, each command's example
/// output keyed by where it starts in the script, and the database queries.
#[derive(Debug, Default)]
pub(crate) struct Transcript {
    pub(crate) script: String,
    /// `(script offset, block offset, length)`, sorted.
    pub(crate) pieces: Vec<(usize, usize, usize)>,
    pub(crate) outputs: Vec<(usize, String)>,
    pub(crate) queries: Vec<Query>,
}

/// What the previous line was, for reading the next one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing open; a `#` line is a comment.
    Idle,
    /// A shell command that continues on the next line (`\`, `|`, `&&`, open heredoc).
    Continues,
    /// A shell command is complete; a `> ` line right after it still continues it.
    Typed,
    /// A query is open (continuation prompts extend it).
    Query,
    /// Output lines are being collected.
    Output,
}

/// Reading a transcript line by line.
struct Splitter<'a> {
    t: Transcript,
    state: State,
    heredoc: Option<(String, bool)>,
    /// Output lines of the current command, and where that command starts in the script.
    output: Vec<&'a str>,
    out_key: Option<usize>,
    /// Comment lines waiting for the command they describe.
    pending: Vec<(&'a str, usize)>,
}

/// Splits a transcript block. A bare `# ` is a root prompt only in blocks with no `$`
/// prompt and no database prompt (elsewhere `#` lines are comments, or output).
pub(crate) fn split(block: &str) -> Transcript {
    let ranges: Vec<Range<usize>> = crate::source::line_ranges(block).collect();
    let root = !ranges.iter().any(|r| {
        let l = crate::source::line_text(block, r);
        match prompt(l, false) {
            Some((Prompt::Shell, off)) => l.get(..off).is_some_and(|p| p.trim_end().ends_with('$')),
            Some(_) => true,
            None => false,
        }
    });
    let mut sp = Splitter {
        t: Transcript::default(),
        state: State::Idle,
        heredoc: None,
        output: Vec::new(),
        out_key: None,
        pending: Vec::new(),
    };
    let mut blank = false;
    for r in ranges {
        let line = crate::source::line_text(block, &r);
        let after_blank = std::mem::replace(&mut blank, line.trim().is_empty());
        sp.line(line, r.start, root, after_blank);
    }
    sp.flush();
    sp.t
}

impl<'a> Splitter<'a> {
    fn line(&mut self, line: &'a str, at: usize, root: bool, after_blank: bool) {
        if let Some((term, strip)) = self.heredoc.clone() {
            let body = line.strip_prefix("> ").unwrap_or(line);
            self.t.push_line(body, at + (line.len() - body.len()));
            let l = if strip {
                body.trim_start_matches('\t')
            } else {
                body
            };
            if l.trim_end() == term {
                self.heredoc = None;
                self.state = State::Typed;
            }
            return;
        }
        let p = prompt(line, root);
        let continuing = match self.state {
            State::Continues if line.starts_with("> ") => Some(2),
            State::Continues => Some(p.map_or(0, |(_, o)| o)),
            State::Typed => line.starts_with("> ").then_some(2),
            _ => None,
        };
        if let Some(off) = continuing {
            let body = line.get(off..).unwrap_or("");
            self.t.push_line(body, at + off);
            (self.state, self.heredoc) = after_command(body);
            return;
        }
        match p {
            Some((Prompt::Shell, off)) => self.command(line.get(off..).unwrap_or(""), at + off),
            Some((Prompt::Database(dialect, cont), off)) => {
                let body = line.get(off..).unwrap_or("").trim_end();
                self.query(dialect, cont, body, at + off..at + line.len());
            }
            None => self.plain(line, at, after_blank),
        }
    }

    fn flush(&mut self) {
        self.t.flush_output(&mut self.output, self.out_key.take());
    }

    /// A command typed at a shell prompt, after the comments that describe it.
    fn command(&mut self, body: &str, at: usize) {
        self.flush();
        if body.trim().is_empty() {
            self.state = State::Idle;
            return;
        }
        for (c, c_at) in self.pending.drain(..) {
            self.t.push_line(c, c_at);
        }
        self.t.push_line(body, at);
        let start = self.t.pieces.last().map_or(0, |p| p.0);
        self.out_key = Some(start + (body.len() - body.trim_start().len()));
        (self.state, self.heredoc) = after_command(body);
    }

    /// A line at a database prompt: a new query, or the next line of the open one.
    fn query(&mut self, dialect: Dialect, cont: bool, body: &str, range: Range<usize>) {
        self.flush();
        self.pending.clear();
        let open = self.state == State::Query;
        match self.t.queries.last_mut() {
            Some(q) if cont && open && q.dialect == dialect => {
                q.text.push('\n');
                q.text.push_str(body);
                q.range.end = range.end;
            }
            _ if body.is_empty() => {}
            _ => self.t.queries.push(Query {
                dialect,
                text: body.to_string(),
                range,
            }),
        }
        self.state = State::Query;
    }

    /// A line without a prompt: a comment, output, or nothing (before any command).
    fn plain(&mut self, line: &'a str, at: usize, after_blank: bool) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if self.state == State::Output {
                self.output.push(line);
            }
            return;
        }
        // A `#` line after a blank line (or before any command) is a comment, kept for
        // the next command's description; otherwise it is output.
        if trimmed.starts_with('#') && (self.out_key.is_none() || after_blank) {
            self.flush();
            let lead = line.len() - line.trim_start().len();
            self.pending.push((trimmed, at + lead));
            self.state = State::Idle;
        } else if self.out_key.is_some() {
            self.output.push(line);
            self.state = State::Output;
        }
    }
}

/// The state after a command line, and the heredoc it opens.
fn after_command(body: &str) -> (State, Option<(String, bool)>) {
    let b = body.trim_end();
    if let Some(h) = crate::script::heredoc_terminator(b) {
        return (State::Continues, Some(h));
    }
    let cont = b.ends_with('\\') || b.ends_with('|') || b.ends_with("&&") || b.ends_with("||");
    (if cont { State::Continues } else { State::Typed }, None)
}

impl Transcript {
    fn push_line(&mut self, text: &str, at: usize) {
        if !self.script.is_empty() {
            self.script.push('\n');
        }
        self.pieces.push((self.script.len(), at, text.len()));
        self.script.push_str(text);
    }

    fn flush_output(&mut self, lines: &mut Vec<&str>, key: Option<usize>) {
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        if let Some(k) = key
            && !lines.is_empty()
        {
            self.outputs.push((k, lines.join("\n")));
        }
        lines.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(block: &str) -> Vec<String> {
        split(block).script.lines().map(str::to_string).collect()
    }

    #[test]
    fn prompts_are_removed_and_output_kept() {
        let t = split("$ kubectl get pods -n web\nNAME    READY\napi-1   1/1\n$ uptime\n");
        assert_eq!(t.script, "kubectl get pods -n web\nuptime");
        assert_eq!(
            t.outputs,
            vec![(0, "NAME    READY\napi-1   1/1".to_string())]
        );
    }

    #[test]
    fn prompt_styles() {
        assert_eq!(
            cmds("user@web-1:~/app$ ls -la\n-rw-r--r-- 1 a b"),
            ["ls -la"]
        );
        assert_eq!(cmds("[root@db1 ~]# df -h\nFilesystem"), ["df -h"]);
        assert_eq!(
            cmds("# systemctl status nginx\n● nginx"),
            ["systemctl status nginx"]
        );
        assert_eq!(
            cmds("# uptime\n[root@db-1 ~]# df -h\nFilesystem"),
            ["uptime", "df -h"],
            "a `#` prompt with user and host does not make `#` a comment"
        );
        assert_eq!(
            cmds("# check\n$ uptime\n 10:00 up"),
            ["# check", "uptime"],
            "with `$` prompts a `#` line is a comment"
        );
        assert_eq!(cmds("$ echo 'a\n> b'\na\nb"), ["echo 'a", "b'"]);
        assert_eq!(
            cmds("sh-4.4# chroot /host\nsh-4.4# df -h\n/dev/sda"),
            ["chroot /host", "df -h"]
        );
        assert_eq!(cmds("worker$ redis-cli info\n# Server"), ["redis-cli info"]);
        assert_eq!(
            cmds("patroni-01-db $ sudo gitlab-patronictl list"),
            ["sudo gitlab-patronictl list"]
        );
        assert_eq!(
            cmds("$ cat <<EOF\n> x\n> EOF\nx"),
            ["cat <<EOF", "x", "EOF"]
        );
    }

    #[test]
    fn database_prompts_are_queries() {
        let t = split("app=# SELECT count(*)\napp-# FROM t;\n count\n-------\n 3\n");
        assert!(t.script.is_empty());
        assert_eq!(t.queries.len(), 1);
        assert_eq!(t.queries[0].text, "SELECT count(*)\nFROM t;");
        assert_eq!(t.queries[0].dialect, Dialect::Postgres);
        let t = split("mysql> SHOW PROCESSLIST;\n127.0.0.1:6379> INFO memory\n# Memory\nused:1\n");
        assert!(
            t.script.is_empty(),
            "`# Memory` is redis output, not a root prompt"
        );
        let d: Vec<_> = t.queries.iter().map(|q| q.dialect).collect();
        assert_eq!(d, [Dialect::Mysql, Dialect::Redis]);
    }

    #[test]
    fn detection() {
        assert!(is_transcript("", "$ oc get nodes\nNAME STATUS"));
        assert!(is_transcript("console", "uptime"));
        assert!(!is_transcript("bash", "echo $HOME\n# comment"));
        assert!(!is_transcript("yaml", "$ x"));
        assert!(!is_transcript("bash", "x=1\nFOO=>/dev/null"));
        assert!(is_transcript("bash", "# list\n$ ls\n"));
        assert!(!is_transcript("bash", "cat <<EOF > motd\n$ welcome\nEOF\n"));
        assert!(!is_transcript("bash", "ls # list\necho $ x\n"));
        assert!(!is_transcript("bash", "echo $ 5\n"));
    }
}
