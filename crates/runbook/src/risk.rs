//! TEMPORARY stand-in for the sitrep-risk API contract until crates/risk lands.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Read,
    Write,
    Unknown,
    Destructive,
}
impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Unknown => "unknown",
            Self::Destructive => "destructive",
        })
    }
}
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub rule: String,
    pub matched: String,
    pub level: Level,
}
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandRisk {
    pub text: String,
    pub span: std::ops::Range<usize>,
    pub level: Level,
    pub reasons: Vec<Reason>,
}
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptRisk {
    pub level: Level,
    pub commands: Vec<CommandRisk>,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomRule {
    #[serde(rename = "match")]
    pub prefix: String,
    pub level: Level,
    #[serde(default)]
    pub reason: Option<String>,
}
pub struct Classifier;
impl Classifier {
    pub fn with_custom(_c: &[CustomRule]) -> Classifier {
        Classifier
    }
    pub fn classify(&self, _s: &str) -> ScriptRisk {
        ScriptRisk {
            level: Level::Unknown,
            commands: vec![],
        }
    }
}
