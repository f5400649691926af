//! `sitrep risk 'COMMAND'`: classify a shell command and say why.

use std::path::PathBuf;

use anyhow::Context as _;
use sitrep_risk::{Classifier, CustomRule, Level, ScriptRisk};

use crate::{CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct RiskArgs {
    /// The shell text to classify (quote it: `sitrep risk 'kubectl delete pod x'`).
    pub command: String,
    /// Site rules: a JSON list of {"match", "level", "reason"} objects (`.json`), or lines of
    /// `LEVEL WORDS...` (e.g. `destructive stella evidence cleanup`; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

pub fn run(args: RiskArgs, ctx: &Ctx) -> Result<(), CliError> {
    let classifier = match &args.rules {
        Some(path) => Classifier::with_custom(&load_rules(path)?),
        None => Classifier::builtin(),
    };
    let risk = classifier.classify(&args.command);
    if ctx.json {
        return ctx.print_json(&risk);
    }
    print!("{}", human(&risk));
    Ok(())
}

fn load_rules(path: &std::path::Path) -> Result<Vec<CustomRule>, CliError> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading site rules {}", path.display()))
        .map_err(CliError::input)?;
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(&text)
            .with_context(|| format!("parsing site rules {}", path.display()))
            .map_err(CliError::input);
    }
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let body = line.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            continue;
        }
        let (level, prefix) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
        let Some(level) = Level::parse(level) else {
            return Err(CliError::input(anyhow::anyhow!(
                "{}:{}: expected `read|write|unknown|destructive WORDS...`, got {line:?}",
                path.display(),
                n + 1
            )));
        };
        if prefix.trim().is_empty() {
            return Err(CliError::input(anyhow::anyhow!(
                "{}:{}: the rule has a level but no command words",
                path.display(),
                n + 1
            )));
        }
        rules.push(CustomRule {
            prefix: prefix.trim().to_string(),
            level,
            reason: None,
        });
    }
    Ok(rules)
}

fn badge(level: Level) -> String {
    format!("[{}]", level.as_str().to_uppercase())
}

fn human(risk: &ScriptRisk) -> String {
    let mut out = format!("{}\n", badge(risk.level));
    if risk.commands.is_empty() {
        out.push_str("  (no commands)\n");
    }
    for cmd in &risk.commands {
        let text = cmd.text.lines().next().unwrap_or("");
        let more = if cmd.text.lines().count() > 1 {
            " ..."
        } else {
            ""
        };
        out.push_str(&format!(
            "\n  {:<13} {}{}   (bytes {}..{})\n",
            badge(cmd.level),
            text,
            more,
            cmd.span.start,
            cmd.span.end
        ));
        for r in &cmd.reasons {
            let matched = r.matched.lines().next().unwrap_or("");
            out.push_str(&format!(
                "      {:<11} {}: {}\n",
                r.level.as_str(),
                r.rule,
                matched
            ));
        }
    }
    out
}
