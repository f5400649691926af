//! Programs that run programs: awk (read only when its inline program is proven read-only),
//! script interpreters (perl, python, ruby, node...: never read), `source`, mongosh.

use super::wrappers::value_reread;
use super::{Outcome, by_table, reason};
use crate::{Classifier, Level, Reason};

/// Script interpreters: whatever their program does is invisible to us.
const INTERPRETERS: &[&str] = &[
    "perl",
    "python",
    "python2",
    "python3",
    "ruby",
    "node",
    "nodejs",
    "deno",
    "bun",
    "php",
    "lua",
    "luajit",
    "tclsh",
    "wish",
    "Rscript",
    "pwsh",
    "irb",
    "groovy",
    "osascript",
];

/// Options whose value is program text (or a file of it), per interpreter family.
fn code_flags(name: &str) -> &'static [&'static str] {
    match name {
        "perl" | "ruby" => &["-e", "-E"],
        "node" | "nodejs" | "bun" => &["-e", "--eval", "-p", "--print"],
        "php" => &["-r", "-R", "-B", "-E", "-F"],
        "pwsh" => &["-c", "-Command", "-f", "-File"],
        n if n.starts_with("python") => &["-c"],
        _ => &["-e"],
    }
}

pub(super) fn is_interpreter(name: &str) -> bool {
    INTERPRETERS.contains(&name) || name.starts_with("python3.")
}

/// perl/python/...: `--version`-style calls go to the table; anything else runs code.
pub(super) fn program(c: &Classifier, name: &str, words: &[String]) -> Outcome {
    let info = |w: &String| {
        matches!(
            w.as_str(),
            "--version" | "-V" | "-v" | "--help" | "-h" | "-version"
        )
    };
    if words.len() > 1 && words.iter().skip(1).all(info) {
        return by_table(c, words);
    }
    let flags = code_flags(name);
    let mut reasons = Vec::new();
    let mut code = None;
    for (i, w) in words.iter().enumerate().skip(1) {
        // `perl -ne 'CODE'`: the code flag may end a cluster of short flags.
        let clustered = w.len() > 2
            && !w.starts_with("--")
            && flags.iter().any(|f| f.len() == 2 && w.ends_with(&f[1..]));
        if flags.contains(&w.as_str()) || clustered {
            code = words.get(i + 1);
            break;
        }
    }
    let script = code.or_else(|| words.iter().skip(1).find(|w| !w.starts_with('-')));
    match (code, script) {
        (Some(p), _) => {
            reasons.push(reason(&format!("{name} inline program"), p, Level::Unknown));
            reasons.extend(value_reread(p));
        }
        (None, Some(file)) => {
            reasons.push(reason(
                &format!("{name} runs a script"),
                file,
                Level::Unknown,
            ));
            reasons.extend(value_reread(file));
        }
        (None, None) => reasons.push(reason(
            &format!("{name} program not visible"),
            &words.join(" "),
            Level::Unknown,
        )),
    }
    Outcome::new(reasons)
}

/// `source FILE` / `. FILE` runs a file of shell code in the current shell.
pub(super) fn source(words: &[String]) -> Outcome {
    let file = words.get(1).map_or("", String::as_str);
    let mut reasons = vec![reason(
        "source runs a file",
        &words.join(" "),
        Level::Unknown,
    )];
    reasons.extend(value_reread(file));
    Outcome::new(reasons)
}

/// mongosh/mongo: `--eval JS` and script files run JavaScript against the database.
pub(super) fn mongosh(words: &[String]) -> Outcome {
    let name = words.first().map_or("mongosh", String::as_str);
    let mut reasons = vec![reason(
        &format!("{name} runs JavaScript"),
        &words.join(" "),
        Level::Unknown,
    )];
    for (i, w) in words.iter().enumerate() {
        let code = match w.as_str() {
            "--eval" | "-f" | "--file" => words.get(i + 1).map(String::as_str),
            _ if w.starts_with("--eval=") => w.get(7..),
            _ if w.ends_with(".js") => Some(w.as_str()),
            _ => None,
        };
        reasons.extend(code.and_then(value_reread));
    }
    Outcome::new(reasons)
}

/// awk family: read only when the program is inline and proven read-only.
pub(super) fn awk(words: &[String]) -> Outcome {
    let name = words.first().map_or("awk", String::as_str);
    let mut reasons: Vec<Reason> = Vec::new();
    let mut programs: Vec<&str> = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') || w.len() < 2 {
            break;
        }
        let (flag, attached) = split_flag(w);
        let mut value = || match attached {
            Some(v) => v,
            None => {
                i += 1;
                words.get(i).map_or("", String::as_str)
            }
        };
        match flag {
            "-e" | "--source" => programs.push(value()),
            "-f" | "--file" | "-E" | "--exec" => {
                let file = value();
                reasons.push(reason("awk program from a file", file, Level::Unknown));
                reasons.extend(value_reread(file));
            }
            "-i" | "--include" => match value() {
                "inplace" => reasons.push(reason("awk -i inplace", w, Level::Write)),
                f => reasons.push(reason("awk includes a file", f, Level::Unknown)),
            },
            "-l" | "--load" => {
                let lib = value();
                reasons.push(reason("awk loads an extension", lib, Level::Unknown));
            }
            "-v" | "--assign" | "-F" | "--field-separator" => {
                let _ = value();
            }
            _ => {}
        }
        i += 1;
    }
    if programs.is_empty() && reasons.is_empty() {
        match words.get(i) {
            Some(p) => programs.push(p),
            None => reasons.push(reason("awk without a program", name, Level::Unknown)),
        }
    }
    for p in programs {
        reasons.extend(value_reread(p));
        let (level, why) = awk_program(p);
        reasons.push(reason(why, p, level));
    }
    Outcome::new(reasons)
}

/// `-F:` -> (`-F`, `:`), `--file=x` -> (`--file`, `x`), `-f` -> (`-f`, none).
fn split_flag(w: &str) -> (&str, Option<&str>) {
    if let Some((f, v)) = w.split_once('=').filter(|_| w.starts_with("--")) {
        return (f, Some(v));
    }
    // `split_at_checked`: the second character may be multi-byte (`-é`), found by fuzzing.
    if !w.starts_with("--")
        && w.len() > 2
        && let Some((f, v)) = w.split_at_checked(2)
        && matches!(f, "-F" | "-v" | "-f" | "-e" | "-i" | "-l" | "-E")
    {
        return (f, Some(v));
    }
    (w, None)
}

/// The level an awk program asks for: `system()`, pipes to or from commands (`|`, `|&`) and
/// gawk's `@` directives are `unknown`; `print > file` / `>>` write; anything else reads.
fn awk_program(p: &str) -> (Level, &'static str) {
    let b = p.as_bytes();
    let mut worst = (Level::Read, "awk program (read-only)");
    let mut raise = |l: Level, why: &'static str| {
        if l > worst.0 {
            worst = (l, why);
        }
    };
    let mut i = 0;
    // Whether the last significant token was an operand: then `/` divides, else starts a
    // regex. `print` state: inside a print statement, at this paren depth.
    let mut operand = false;
    let mut depth = 0usize;
    let mut print_at: Option<usize> = None;
    while let Some(&ch) = b.get(i) {
        match ch {
            b'"' => {
                i = skip_quoted(b, i, b'"');
                operand = true;
                continue;
            }
            b'/' if !operand => {
                i = skip_quoted(b, i, b'/');
                operand = true;
                continue;
            }
            // Blanks keep the previous token's kind: `$1 / 2` divides.
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while b.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'|' if b.get(i + 1) == Some(&b'|') => i += 1,
            b'|' => raise(Level::Unknown, "awk pipe to or from a command"),
            b'@' => raise(Level::Unknown, "awk @ directive or indirect call"),
            b'>' if print_at == Some(depth) && !to_std_stream(b, i) => {
                raise(Level::Write, "awk print to a file");
            }
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b';' | b'\n' | b'{' | b'}' => print_at = None,
            _ if ch.is_ascii_alphabetic() || ch == b'_' => {
                let start = i;
                while b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                match p.get(start..i).unwrap_or("") {
                    "system" => raise(Level::Unknown, "awk system()"),
                    "print" | "printf" => print_at = Some(depth),
                    _ => {}
                }
                operand = true;
                continue;
            }
            _ => {}
        }
        operand = ch.is_ascii_digit() || matches!(ch, b')' | b']' | b'$' | b'.');
        i += 1;
    }
    worst
}

/// Index just past the literal that opens at `start` with `q` (backslash escapes honoured).
fn skip_quoted(b: &[u8], start: usize, q: u8) -> usize {
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            i += 2;
            continue;
        }
        i += 1;
        if c == q {
            break;
        }
    }
    i
}

/// `print > "/dev/stderr"`: the redirection at `gt` goes to a standard stream, not a file.
fn to_std_stream(b: &[u8], gt: usize) -> bool {
    let rest = b.get(gt + 1..).unwrap_or(&[]);
    let rest = rest.strip_prefix(b">").unwrap_or(rest);
    let rest = rest.trim_ascii_start();
    rest.starts_with(b"\"/dev/stderr\"") || rest.starts_with(b"\"/dev/stdout\"")
}

/// gdb runs debugger commands that can call functions, change memory or start a shell: read
/// only in batch mode with every `-ex` command a listing (`bt`, `info ...`) and no script.
pub(super) fn gdb(words: &[String]) -> Outcome {
    let listing = |cmd: &str| {
        let cmd = cmd.trim();
        [
            "bt",
            "backtrace",
            "where",
            "info ",
            "thread apply all bt",
            "thread apply all backtrace",
        ]
        .iter()
        .any(|p| cmd == p.trim() || cmd.starts_with(p))
            && !cmd.contains(['$', '(', '='])
    };
    let batch = words.iter().any(|w| w == "-batch" || w == "--batch");
    let mut proven = batch;
    let mut i = 1;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-ex" | "--ex" | "-eval-command" | "--eval-command" => {
                i += 1;
                proven &= words.get(i).is_some_and(|c| listing(c));
            }
            "-p" | "--pid" => i += 1,
            "-batch" | "--batch" | "-q" | "-quiet" | "--quiet" | "-nx" | "--nx" => {}
            _ => proven = false,
        }
        i += 1;
    }
    if proven {
        Outcome::one("gdb batch listing", &words.join(" "), Level::Read)
    } else {
        Outcome::one(
            "gdb runs debugger commands",
            &words.join(" "),
            Level::Unknown,
        )
    }
}
