//! Binding placeholders to values without ever splicing a value into shell text.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// How a placeholder is written in the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceholderKind {
    /// `<name>`: replaced in the text by a quoted reference to `SITREP_P_<NAME>`.
    Angle,
    /// `$NAME` or `${NAME}`: the text is kept; the value is passed as that variable.
    Var,
}

/// One placeholder a script needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placeholder {
    /// The name as written (`pod-name` for `<pod-name>`, `NAMESPACE` for `$NAMESPACE`).
    pub name: String,
    /// Which syntax it uses.
    pub kind: PlaceholderKind,
    /// A secret value is passed to the process but never displayed or recorded.
    pub secret: bool,
}

impl Placeholder {
    /// A non-secret `<name>` placeholder.
    pub fn angle(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: PlaceholderKind::Angle,
            secret: false,
        }
    }
    /// A non-secret `$NAME` placeholder.
    pub fn var(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: PlaceholderKind::Var,
            secret: false,
        }
    }
    /// The same placeholder, marked secret.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// Layered value sources, highest priority first (e.g. `--set`, incident, alert, defaults).
#[derive(Debug, Clone, Default)]
pub struct Values {
    sources: Vec<(String, BTreeMap<String, String>)>,
}

impl Values {
    /// No sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a source with lower priority than every source added before it.
    pub fn with_source(mut self, name: &str, values: BTreeMap<String, String>) -> Self {
        self.sources.push((name.to_owned(), values));
        self
    }

    /// The value for `name` and the source it came from. An exact name wins in every
    /// source before a case-insensitive match is tried (`$NAMESPACE` finds `namespace`).
    pub fn lookup(&self, name: &str) -> Option<(&str, &str)> {
        let exact = self
            .sources
            .iter()
            .find_map(|(src, vals)| vals.get(name).map(|v| (v.as_str(), src.as_str())));
        exact.or_else(|| {
            self.sources.iter().find_map(|(src, vals)| {
                vals.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| (v.as_str(), src.as_str()))
            })
        })
    }
}

/// Where one value came from, for the run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// Placeholder name.
    pub name: String,
    /// The value, or `[REDACTED:param]` for secrets.
    pub value: String,
    /// Name of the source that supplied it.
    pub source: String,
    /// Whether the value is secret.
    pub secret: bool,
}

/// A script ready to run: values travel only in `env`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundScript {
    /// The text handed to the interpreter; it references values only through variables.
    pub script: String,
    /// The command with shell-quoted values, for the confirmation dialog and the record.
    pub display: String,
    /// Environment variables carrying the values.
    #[serde(skip)]
    pub env: Vec<(String, String)>,
    /// Every binding and its source.
    pub bindings: Vec<Binding>,
}

impl BoundScript {
    /// Values of secret bindings, for the redactor.
    pub fn secret_values(&self) -> Vec<String> {
        // `env` and `bindings` are built in step, one entry per placeholder.
        self.env
            .iter()
            .zip(&self.bindings)
            .filter(|(_, b)| b.secret)
            .map(|((_, v), _)| v.clone())
            .collect()
    }
}

/// Why a script cannot be bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// No source has a value for these names (all of them listed, sorted).
    #[error("no value for: {}", .0.join(", "))]
    Unbound(Vec<String>),
    /// A `$NAME` placeholder would override a variable the shell or loader trusts.
    #[error("refusing to pass {0} as a parameter: it controls the shell or the loader")]
    Reserved(String),
}

/// Variables that must not come from runbook parameters: they change what runs.
fn is_reserved(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "PATH",
        "HOME",
        "IFS",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "CDPATH",
        "GLOBIGNORE",
        "PROMPT_COMMAND",
    ];
    let upper = name.to_ascii_uppercase();
    RESERVED.contains(&upper.as_str()) || upper.starts_with("LD_") || upper.starts_with("BASH_FUNC")
}

/// The environment variable carrying an angle placeholder's value.
pub fn angle_env_name(name: &str) -> String {
    let mut out = String::from("SITREP_P_");
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    out
}

/// Quotes a value for display so it reads as one literal shell word.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

#[derive(Debug)]
struct Occurrence {
    start: usize,
    end: usize,
    name: String,
    kind: PlaceholderKind,
    quote: Quote,
    /// `${NAME:-x}` and friends carry their own default.
    has_default: bool,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Walks the script once, tracking quotes and comments, and reports every `<name>` and
/// `$NAME`/`${NAME}` with the quoting it sits in, plus names assigned before use.
fn occurrences(script: &str) -> (Vec<Occurrence>, Vec<(usize, String)>) {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut assigned = Vec::new();
    let mut quote = Quote::None;
    let mut i = 0;
    let at_word_start =
        |i: usize| i == 0 || b.get(i - 1).is_some_and(|c| b" \t\n;&|(`".contains(c));
    while let Some(&c) = b.get(i) {
        match (quote, c) {
            (Quote::Single, b'\'') => quote = Quote::None,
            (Quote::None, b'\'') => quote = Quote::Single,
            (Quote::Double, b'"') => quote = Quote::None,
            (Quote::None, b'"') => quote = Quote::Double,
            (Quote::None | Quote::Double, b'\\') => i += 1,
            (Quote::None, b'#') if at_word_start(i) => {
                while b.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            (_, b'<') => {
                let mut j = i + 1;
                if b.get(j).is_some_and(|c| c.is_ascii_alphabetic()) {
                    while b.get(j).is_some_and(|&c| is_name_char(c) || c == b'-') {
                        j += 1;
                    }
                    if b.get(j) == Some(&b'>') {
                        out.push(Occurrence {
                            start: i,
                            end: j + 1,
                            name: script[i + 1..j].to_owned(),
                            kind: PlaceholderKind::Angle,
                            quote,
                            has_default: false,
                        });
                        i = j + 1;
                        continue;
                    }
                }
            }
            (Quote::None | Quote::Double, b'$') => {
                let braced = b.get(i + 1) == Some(&b'{');
                let s = if braced { i + 2 } else { i + 1 };
                if b.get(s).is_some_and(|&c| is_name_start(c)) {
                    let mut j = s;
                    while b.get(j).is_some_and(|&c| is_name_char(c)) {
                        j += 1;
                    }
                    let (end, has_default) = if braced {
                        match b.get(j) {
                            Some(b'}') => (j + 1, false),
                            // `${NAME:-x}`, `${NAME#x}`...: find the closing brace.
                            Some(_) => {
                                let close = script[j..].find('}').map_or(b.len(), |k| j + k + 1);
                                let op = &script[j..close.min(b.len())];
                                let defaults = ["-", ":-", "=", ":=", "+", ":+"]
                                    .iter()
                                    .any(|p| op.starts_with(p));
                                (close, defaults)
                            }
                            None => (j, false),
                        }
                    } else {
                        (j, false)
                    };
                    out.push(Occurrence {
                        start: i,
                        end,
                        name: script[s..j].to_owned(),
                        kind: PlaceholderKind::Var,
                        quote,
                        has_default,
                    });
                    i = end;
                    continue;
                }
            }
            (Quote::None, _) if is_name_start(c) && at_word_start(i) => {
                let mut j = i;
                while b.get(j).is_some_and(|&c| is_name_char(c)) {
                    j += 1;
                }
                let word = &script[i..j];
                if b.get(j) == Some(&b'=') {
                    assigned.push((i, word.to_owned()));
                } else if matches!(
                    word,
                    "for" | "read" | "local" | "export" | "declare" | "readonly"
                ) {
                    // The names that follow are assigned by the shell itself.
                    let rest = &script[j..];
                    let line = rest.split(['\n', ';', '|', '&']).next().unwrap_or("");
                    for w in line.split_whitespace() {
                        if w == "in" || w == "do" {
                            break;
                        }
                        let n = w.split('=').next().unwrap_or("");
                        if !n.starts_with('-') && n.bytes().all(is_name_char) && !n.is_empty() {
                            assigned.push((i, n.to_owned()));
                        }
                    }
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (out, assigned)
}

/// Names the shell or the OS provide; never a runbook parameter.
fn is_ambient(name: &str) -> bool {
    matches!(
        name,
        "HOME"
            | "PATH"
            | "USER"
            | "PWD"
            | "OLDPWD"
            | "HOSTNAME"
            | "RANDOM"
            | "LINENO"
            | "SECONDS"
            | "IFS"
            | "UID"
            | "EUID"
            | "PPID"
            | "SHELL"
            | "LANG"
            | "TERM"
            | "TMPDIR"
            | "REPLY"
    ) || name.starts_with("BASH")
        || name.starts_with("SITREP_")
}

/// Lists the placeholders a script needs, in first-use order: `<name>` everywhere, and
/// `$NAME`/`${NAME}` unless assigned earlier in the script, given a default
/// (`${NAME:-x}`), or provided by the shell (`$?`, `$1`, `$@`, `$HOME`...).
pub fn scan_placeholders(script: &str) -> Vec<Placeholder> {
    let (occ, assigned) = occurrences(script);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for o in occ {
        let skip = o.kind == PlaceholderKind::Var
            && (o.has_default
                || is_ambient(&o.name)
                || assigned
                    .iter()
                    .any(|(pos, n)| *pos < o.start && *n == o.name));
        if !skip && seen.insert((o.kind == PlaceholderKind::Angle, o.name.clone())) {
            out.push(Placeholder {
                name: o.name,
                kind: o.kind,
                secret: false,
            });
        }
    }
    out
}

/// Binds `placeholders` from `values`. Values only ever reach the process through the
/// environment; `<name>` becomes a quoted reference to `SITREP_P_<NAME>`, so a value such
/// as `x; rm -rf /` stays one literal argument. Refuses, listing every missing name.
pub fn bind(
    script: &str,
    placeholders: &[Placeholder],
    values: &Values,
) -> Result<BoundScript, BindError> {
    let mut missing = BTreeSet::new();
    let mut bindings = Vec::new();
    let mut env = Vec::new();
    for p in placeholders {
        if p.kind == PlaceholderKind::Var && is_reserved(&p.name) {
            return Err(BindError::Reserved(p.name.clone()));
        }
        match values.lookup(&p.name) {
            Some((value, source)) => {
                let var = match p.kind {
                    PlaceholderKind::Angle => angle_env_name(&p.name),
                    PlaceholderKind::Var => p.name.clone(),
                };
                env.push((var, value.to_owned()));
                bindings.push(Binding {
                    name: p.name.clone(),
                    value: if p.secret {
                        "[REDACTED:param]".into()
                    } else {
                        value.to_owned()
                    },
                    source: source.to_owned(),
                    secret: p.secret,
                });
            }
            None => {
                missing.insert(p.name.clone());
            }
        }
    }
    if !missing.is_empty() {
        return Err(BindError::Unbound(missing.into_iter().collect()));
    }
    let bound_value = |kind: PlaceholderKind, name: &str| {
        bindings.iter().zip(env.iter()).find_map(|(b, (var, _))| {
            let same_kind = placeholders
                .iter()
                .any(|p| p.name == b.name && p.kind == kind);
            (b.name == name && same_kind).then_some((b, var))
        })
    };
    let (occ, _) = occurrences(script);
    let mut run = String::with_capacity(script.len());
    let mut display = String::with_capacity(script.len());
    let mut last = 0;
    for o in &occ {
        let Some((binding, var)) = bound_value(o.kind, &o.name) else {
            continue;
        };
        let before = script.get(last..o.start).unwrap_or("");
        run.push_str(before);
        display.push_str(before);
        let original = script.get(o.start..o.end).unwrap_or("");
        match o.kind {
            PlaceholderKind::Angle => run.push_str(&match o.quote {
                Quote::None => format!("\"${{{var}}}\""),
                Quote::Double => format!("${{{var}}}"),
                // Close the single quotes, expand, reopen: the value is still one word.
                Quote::Single => format!("'\"${{{var}}}\"'"),
            }),
            PlaceholderKind::Var => run.push_str(original),
        }
        let shown = if binding.secret {
            "[REDACTED:param]"
        } else {
            binding.value.as_str()
        };
        match o.quote {
            Quote::None => display.push_str(&shell_quote(shown)),
            Quote::Double => {
                for ch in shown.chars() {
                    if matches!(ch, '"' | '$' | '`' | '\\') {
                        display.push('\\');
                    }
                    display.push(ch);
                }
            }
            Quote::Single => display.push_str(&shown.replace('\'', r"'\''")),
        }
        last = o.end;
    }
    let rest = script.get(last..).unwrap_or("");
    run.push_str(rest);
    display.push_str(rest);
    Ok(BoundScript {
        script: run,
        display,
        env,
        bindings,
    })
}
