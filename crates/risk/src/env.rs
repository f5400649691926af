//! Variable assignments: which ones put values into a program's environment or change how
//! the shell itself finds and runs commands, and so make a command `unknown`.
//!
//! A value in a child's environment is read by that program, and many programs treat some
//! variables as code or as the path to code (`GIT_PAGER`, `LD_PRELOAD`, `NODE_OPTIONS`,
//! `KUBECONFIG`...). Listing those can never be complete, so the rule is an allow-list:
//! only names no common tool reads as code or a path to code, with values of a checked
//! shape, may reach a child; anything else is `unknown` with rule [`RULE`].

use crate::shell::{classify_script, unquote};
use crate::{Classifier, Level, Reason, VALUE_MARKER, VALUE_REREAD_RULE};

/// The rule name of a reason raised by an assignment.
pub const RULE: &str = "env-assignment";

/// Names the shell itself acts on (command lookup, word splitting, startup files, traces,
/// option sets, the command hash table) and names the executor exports into every step or
/// that docs/executor.md tells sites to export, so a plain `NAME=x` reaches children too.
const SHELL_NAMES: &[&str] = &[
    "PATH",
    "IFS",
    "PS0",
    "PS1",
    "PS2",
    "PS4",
    "ENV",
    "PROMPT_COMMAND",
    "CDPATH",
    "GLOBIGNORE",
    "EXECIGNORE",
    "SHELLOPTS",
    "BASHOPTS",
    "POSIXLY_CORRECT",
    "FUNCNEST",
    "HOME",
    "LANG",
    "TMPDIR",
    "KUBECONFIG",
];

/// Prefixes of names in [`SHELL_NAMES`]' class: bash's own (`BASH_ENV`, `BASH_CMDS`,
/// `BASH_ALIASES`, `BASH_XTRACEFD`...) and the dynamic loader's (`LD_PRELOAD`...).
const SHELL_PREFIXES: &[&str] = &["BASH_", "LD_"];

/// Variables whose value a program runs as a shell command line (`LESSOPEN` after its
/// `|`): the value is classified as a nested script, so `GIT_PAGER='rm -rf /' git log`
/// is destructive, not only unknown.
const COMMAND_NAMES: &[&str] = &[
    "PAGER",
    "GIT_PAGER",
    "MANPAGER",
    "SYSTEMD_PAGER",
    "EDITOR",
    "VISUAL",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "FCEDIT",
    "GIT_SSH_COMMAND",
    "LESSOPEN",
    "LESSCLOSE",
    "BROWSER",
    "PROMPT_COMMAND",
];

/// Builtins that start no program and cannot turn a variable into code: a prefix
/// assignment (`IFS= read -r line`) only changes how they split or print.
const QUIET_BUILTINS: &[&str] = &[
    "read", "echo", "printf", "test", "[", "true", "false", "pwd",
];

/// Whether `value` (literal, unquoted) is acceptable for the allow-listed `name`; `None`
/// when `name` is not allow-listed. See docs/risk.md for why each name is here.
fn allowed(name: &str, value: &str) -> Option<bool> {
    let only = |extra: &str| {
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.as_bytes().contains(&b))
    };
    let locale = name == "LANG"
        || name == "LANGUAGE"
        || name.strip_prefix("LC_").is_some_and(|r| {
            !r.is_empty() && r.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        });
    Some(if locale {
        // A locale with a `/` is a path to locale data and message catalogs, whose format
        // strings printf trusts.
        only("_.@:-")
    } else {
        match name {
            // A terminfo entry name; with a `/` it would be a path.
            "TERM" => only("_.+-"),
            // Numbers: a width, a height, etcd's API version (`ETCDCTL_API=3 etcdctl`).
            "COLUMNS" | "LINES" | "ETCDCTL_API" => value.bytes().all(|b| b.is_ascii_digit()),
            "NO_COLOR" => only("_.-"),
            _ => return None,
        }
    })
}

/// The name of an assignment's text (`NAME=`, `NAME+=`, `NAME[i]=`, or a bare `NAME`) and
/// its raw value (`None` for a bare name).
fn split(text: &str) -> (&str, Option<&str>) {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let name = text.get(..end).unwrap_or(text);
    let value = text.find('=').and_then(|i| text.get(i + 1..));
    (name, value)
}

fn reason(rule: &str, matched: &str) -> Reason {
    Reason {
        rule: rule.to_string(),
        matched: matched.to_string(),
        level: Level::Unknown,
    }
}

/// Where assignments are checked: nested values are classified with this classifier, one
/// level deeper than the command that holds them.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub c: &'a Classifier,
    pub depth: usize,
}

impl Scope<'_> {
    /// Reasons for `text` (as written, quotes included) reaching a child's environment.
    /// `quoted`: the text still has its shell quoting (false for words already unquoted).
    fn exported(self, text: &str, quoted: bool, out: &mut Vec<Reason>) {
        let (name, raw) = split(text);
        // A zone name or a tz file is data, read as `cat` reads its argument: any value.
        if name == "TZ" {
            return;
        }
        if text.contains(VALUE_MARKER) {
            // A value from outside becomes a program's environment: the program reads it.
            out.push(reason(VALUE_REREAD_RULE, text));
        }
        let value = raw.map(|r| if quoted { unquote(r) } else { r.to_string() });
        let ok = match (raw, &value) {
            // `export NAME`: the value was set elsewhere, where nobody checked it.
            (Some(raw), Some(value)) => {
                !raw.contains(['$', '`'])
                    && !text.contains(VALUE_MARKER)
                    && !text.contains('[')
                    && allowed(name, value) == Some(true)
            }
            _ => false,
        };
        if !ok {
            out.push(reason(RULE, text));
        }
        if let Some(value) = value.filter(|_| COMMAND_NAMES.contains(&name)) {
            let script = value.trim_start_matches(['|', '-']);
            for cmd in classify_script(self.c, script, self.depth + 1) {
                out.extend(cmd.reasons);
            }
        }
    }

    /// A plain assignment statement (`NS=prod`): harmless unless the shell acts on the
    /// name or children already have it.
    pub fn plain(self, text: &str, out: &mut Vec<Reason>) {
        let (name, _) = split(text);
        if SHELL_NAMES.contains(&name) || SHELL_PREFIXES.iter().any(|p| name.starts_with(p)) {
            self.exported(text, true, out);
        }
    }

    /// Assignment prefixes of a command (`GIT_PAGER=x git log`): its environment.
    pub fn prefixes(self, assigns: &[&str], words: &[String]) -> Vec<Reason> {
        let mut out = Vec::new();
        if words
            .first()
            .is_some_and(|w| QUIET_BUILTINS.contains(&w.as_str()))
        {
            // The assignments last for this builtin only, and it runs nothing.
            return out;
        }
        for a in assigns {
            self.exported(a, true, &mut out);
        }
        out
    }

    /// `env`'s `NAME=VALUE` words (already unquoted).
    pub fn env_words(self, words: &[String]) -> Vec<Reason> {
        let mut out = Vec::new();
        for w in words {
            self.exported(w, false, &mut out);
        }
        out
    }

    /// `export`, `declare`, `typeset`, `local`, `readonly` with their option words and
    /// their assignments or names (as written).
    pub fn declaration(self, keyword: &str, opts: &[&str], items: &[&str]) -> Vec<Reason> {
        self.declare(keyword, opts, items, true)
    }

    /// The same for a declaration reached as words, already unquoted (`sudo export X=1`,
    /// `builtin declare -x X=1`); `None` when `words` is not a declaration.
    pub fn declaration_words(self, words: &[String]) -> Option<Vec<Reason>> {
        let (keyword, rest) = words.split_first()?;
        if !matches!(
            keyword.as_str(),
            "export" | "declare" | "typeset" | "local" | "readonly"
        ) {
            return None;
        }
        let (opts, items): (Vec<&str>, Vec<&str>) = rest
            .iter()
            .map(String::as_str)
            .partition(|w| w.starts_with(['-', '+']));
        Some(self.declare(keyword, &opts, &items, false))
    }

    fn declare(self, keyword: &str, opts: &[&str], items: &[&str], quoted: bool) -> Vec<Reason> {
        let mut out = Vec::new();
        let has = |f: char| {
            opts.iter().any(|o| {
                o.strip_prefix('-')
                    .is_some_and(|o| !o.starts_with('-') && o.contains(f))
            })
        };
        if has('n') && keyword != "export" {
            // A name reference: later plain assignments to it assign the variable it names.
            out.push(reason(RULE, &format!("{keyword} {}", opts.join(" "))));
        }
        // `export -n` un-exports; `export -p` without names only lists.
        let exports = (keyword == "export" && !has('n')) || has('x');
        for item in items {
            if exports {
                self.exported(item, quoted, &mut out);
            } else {
                self.plain(item, &mut out);
            }
        }
        out
    }
}
