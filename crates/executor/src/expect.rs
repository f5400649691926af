//! A step's `expect` attribute and the verdict on an outcome.

use regex::Regex;
use serde::Serialize;

/// What a step is expected to do. Every listed condition must hold.
#[derive(Debug, Clone)]
pub struct Expect {
    exit: Option<i32>,
    contains: Option<String>,
    matches: Option<Regex>,
}

/// Why an `expect` attribute cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpectError {
    /// Not an int, a string or an object with `exit`/`contains`/`matches`.
    #[error(
        "expect must be an exit code, a string or {{\"exit\", \"contains\", \"matches\"}}: {0}"
    )]
    Shape(String),
    /// `matches` is not a valid regex.
    #[error("expect.matches is not a valid regex: {0}")]
    Regex(String),
}

/// The verdict against `expect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "lowercase")]
pub enum Verdict {
    /// Every condition held.
    Pass(String),
    /// One did not.
    Fail(String),
    /// The step has no expectation.
    None,
}

impl Expect {
    /// Parses `0`, `"text"` (output contains) or `{"exit": 0, "contains": "..", "matches": ".."}`.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, ExpectError> {
        use serde_json::Value;
        let int = |v: &Value| {
            v.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| ExpectError::Shape(v.to_string()))
        };
        let mut e = Expect {
            exit: None,
            contains: None,
            matches: None,
        };
        match v {
            Value::Number(_) => e.exit = Some(int(v)?),
            Value::String(s) => e.contains = Some(s.clone()),
            Value::Object(map) if !map.is_empty() => {
                for (k, val) in map {
                    match (k.as_str(), val) {
                        ("exit", _) => e.exit = Some(int(val)?),
                        ("contains", Value::String(s)) => e.contains = Some(s.clone()),
                        ("matches", Value::String(s)) => {
                            e.matches = Some(
                                Regex::new(s).map_err(|err| ExpectError::Regex(err.to_string()))?,
                            );
                        }
                        _ => return Err(ExpectError::Shape(format!("{k}: {val}"))),
                    }
                }
            }
            other => return Err(ExpectError::Shape(other.to_string())),
        }
        Ok(e)
    }

    /// Judges an exit code (`None` when killed by a signal) and the captured output.
    pub fn verdict(&self, exit: Option<i32>, output: &str) -> Verdict {
        if let Some(want) = self.exit {
            match exit {
                Some(code) if code == want => {}
                Some(code) => return Verdict::Fail(format!("exit code {code}, expected {want}")),
                None => return Verdict::Fail(format!("killed by a signal, expected exit {want}")),
            }
        }
        if let Some(text) = &self.contains {
            if !output.contains(text.as_str()) {
                return Verdict::Fail(format!("output does not contain {text:?}"));
            }
        }
        if let Some(re) = &self.matches {
            if !re.is_match(output) {
                return Verdict::Fail(format!("output does not match /{}/", re.as_str()));
            }
        }
        let mut held = Vec::new();
        if let Some(c) = self.exit {
            held.push(format!("exit {c}"));
        }
        if let Some(t) = &self.contains {
            held.push(format!("contains {t:?}"));
        }
        if let Some(re) = &self.matches {
            held.push(format!("matches /{}/", re.as_str()));
        }
        Verdict::Pass(held.join(", "))
    }
}
