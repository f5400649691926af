//! Binding placeholders to values without ever splicing a value into shell text: every
//! value is one quoted word, checked before it is bound, never an option.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::scan::{Occurrence, Quote, is_placeholder, occurrences};
use crate::values::{Trust, Values};

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

/// Where one value came from, for the run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// Placeholder name.
    pub name: String,
    /// The value, or `[REDACTED:param]` for secrets.
    pub value: String,
    /// Name of the source that supplied it.
    pub source: String,
    /// How far that source is trusted.
    pub trust: Trust,
    /// Whether the value is secret.
    pub secret: bool,
}

/// A script ready to run: values travel only in `env`, and every reference to one is a
/// double-quoted expansion, so a value is always exactly one word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundScript {
    /// The text handed to the interpreter; it references values only through variables.
    pub script: String,
    /// The command with shell-quoted values, for the confirmation dialog and the record.
    pub display: String,
    /// The step text with every bound placeholder replaced by
    /// [`sitrep_risk::VALUE_MARKER`]: classify it to learn where values land.
    pub marked: String,
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

    /// True when a person supplied one of the values: that person must confirm the run.
    pub fn has_person_values(&self) -> bool {
        self.bindings.iter().any(|b| b.trust == Trust::Person)
    }
}

/// A value that may not be bound, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The placeholder.
    pub name: String,
    /// The source of the refused value.
    pub source: String,
    /// The rule that refused it, in words.
    pub rule: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (from {}): {}", self.name, self.source, self.rule)
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
    /// Values that break their rule; nothing was bound.
    #[error("refused values: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Refusal>),
}

/// Checks one value before it is bound: `(placeholder, value, trust)` to `Err(rule)`.
pub type Check<'a> = &'a dyn Fn(&str, &str, Trust) -> Result<(), String>;

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
        "TMPDIR",
    ];
    let upper = name.to_ascii_uppercase();
    RESERVED.contains(&upper.as_str()) || upper.starts_with("LD_") || upper.starts_with("BASH_FUNC")
}

/// The environment variable carrying a `$NAME` placeholder's value. Not `NAME` itself:
/// every program the step starts inherits the environment, and a value must reach
/// them only as the word the runbook put it in (`$GIT_PAGER`, `$LESSOPEN` or
/// `$NODE_OPTIONS` would otherwise make any git, less or node run it).
pub fn var_env_name(name: &str) -> String {
    format!("SITREP_V_{name}")
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

/// Environment variables carrying values, in placeholder order.
type Env = Vec<(String, String)>;

/// Looks every placeholder up and checks its value; the bindings and environment in
/// placeholder order, or every problem at once.
fn lookup_all(
    placeholders: &[Placeholder],
    values: &Values,
    check: Check<'_>,
) -> Result<(Vec<Binding>, Env), BindError> {
    let mut missing = BTreeSet::new();
    let mut refused = Vec::new();
    let mut bindings = Vec::new();
    let mut env = Vec::new();
    for p in placeholders {
        if p.kind == PlaceholderKind::Var && is_reserved(&p.name) {
            return Err(BindError::Reserved(p.name.clone()));
        }
        let Some(found) = values.lookup(&p.name) else {
            missing.insert(p.name.clone());
            continue;
        };
        // The environment cannot carry NUL; a clear refusal beats a spawn error.
        let verdict = if found.value.contains('\0') {
            Err("contains a NUL byte".to_owned())
        } else if found.trust == Trust::Runbook {
            Ok(())
        } else {
            check(&p.name, found.value, found.trust)
        };
        if let Err(rule) = verdict {
            refused.push(Refusal {
                name: p.name.clone(),
                source: found.source.to_owned(),
                rule,
            });
            continue;
        }
        let var = match p.kind {
            PlaceholderKind::Angle => angle_env_name(&p.name),
            PlaceholderKind::Var => var_env_name(&p.name),
        };
        env.push((var, found.value.to_owned()));
        bindings.push(Binding {
            name: p.name.clone(),
            value: if p.secret {
                "[REDACTED:param]".into()
            } else {
                found.value.to_owned()
            },
            source: found.source.to_owned(),
            trust: found.trust,
            secret: p.secret,
        });
    }
    if !missing.is_empty() {
        return Err(BindError::Unbound(missing.into_iter().collect()));
    }
    if !refused.is_empty() {
        return Err(BindError::Refused(refused));
    }
    Ok((bindings, env))
}

/// Binds `placeholders` from `values`. Values only ever reach the process through the
/// environment, and every reference is a double-quoted expansion (`<name>` becomes
/// `"${SITREP_P_NAME}"`, an unquoted `$NAME` becomes `"${NAME}"`), so a value such as
/// `x; rm -rf /` or `a b*` stays one literal word. Every value not from the runbook
/// itself goes through `check` first; a value starting with `-` where it would begin a
/// word is refused unless `--` ended the command's options before it. Refuses listing
/// every missing name, or every refused value.
pub fn bind(
    script: &str,
    placeholders: &[Placeholder],
    values: &Values,
    check: Check<'_>,
) -> Result<BoundScript, BindError> {
    let (bindings, env) = lookup_all(placeholders, values, check)?;
    let (occ, assigned) = occurrences(script);
    let bound_of = |o: &Occurrence| {
        if !is_placeholder(o, &assigned) {
            return None;
        }
        let i = placeholders
            .iter()
            .position(|p| p.name == o.name && p.kind == o.kind)?;
        let b = bindings.get(i)?;
        let (var, raw) = env.get(i)?;
        Some((b, var.as_str(), raw.as_str()))
    };
    let mut run = String::with_capacity(script.len());
    let mut display = String::with_capacity(script.len());
    let mut marked = String::with_capacity(script.len());
    let mut refused = Vec::new();
    let mut last = 0;
    for o in &occ {
        let Some((binding, var, raw)) = bound_of(o) else {
            continue;
        };
        if o.word_start && !o.after_dashdash && raw.starts_with('-') {
            refused.push(Refusal {
                name: binding.name.clone(),
                source: binding.source.clone(),
                rule: "starts with '-' where the command would read it as an option \
                       (the runbook can put `--` before it)"
                    .into(),
            });
        }
        let before = script.get(last..o.start).unwrap_or("");
        let original = script.get(o.start..o.end).unwrap_or("");
        run.push_str(before);
        display.push_str(before);
        marked.push_str(before);
        run.push_str(&reference(o, var, original));
        marked.push_str(sitrep_risk::VALUE_MARKER);
        let shown = if binding.secret {
            "[REDACTED:param]"
        } else {
            binding.value.as_str()
        };
        display.push_str(&displayed(o.quote, shown));
        last = o.end;
    }
    if !refused.is_empty() {
        return Err(BindError::Refused(refused));
    }
    let rest = script.get(last..).unwrap_or("");
    run.push_str(rest);
    display.push_str(rest);
    marked.push_str(rest);
    Ok(BoundScript {
        script: run,
        display,
        marked,
        env,
        bindings,
    })
}

/// The run script's text for one occurrence: always a double-quoted expansion.
fn reference(o: &Occurrence, var: &str, original: &str) -> String {
    match (o.kind, o.quote) {
        (PlaceholderKind::Angle, Quote::None) => format!("\"${{{var}}}\""),
        (PlaceholderKind::Angle, Quote::Double) => format!("${{{var}}}"),
        // Close the single quotes, expand, reopen: the value is still one word.
        (PlaceholderKind::Angle, Quote::Single) => format!("'\"${{{var}}}\"'"),
        // An unquoted `$NAME` would be split into words and globbed: quote it.
        (PlaceholderKind::Var, Quote::None) => format!("\"{}\"", renamed(original, var)),
        (PlaceholderKind::Var, _) => renamed(original, var),
    }
}

/// `$NAME` or `${NAME...}` reading `var` instead: `${var}` or `${var...}`.
fn renamed(original: &str, var: &str) -> String {
    let rest = original
        .strip_prefix("${")
        .map(|r| r.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_'));
    match rest {
        Some(rest) => format!("${{{var}{rest}"),
        None => format!("${{{var}}}"),
    }
}

/// How a value reads in the displayed command, given the quoting around it.
fn displayed(quote: Quote, shown: &str) -> String {
    match quote {
        Quote::None => shell_quote(shown),
        Quote::Double => {
            let mut out = String::with_capacity(shown.len());
            for ch in shown.chars() {
                if matches!(ch, '"' | '$' | '`' | '\\') {
                    out.push('\\');
                }
                out.push(ch);
            }
            out
        }
        Quote::Single => shown.replace('\'', r"'\''"),
    }
}
