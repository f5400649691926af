//! The runbook model: what a Markdown runbook means, with byte ranges into the original
//! text so a later feature can edit the file by splicing instead of re-rendering it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// A parsed runbook. Vectors are in document order; cross references are indices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Runbook {
    /// The first heading, when the document starts with a level-1 heading.
    pub title: Option<String>,
    /// YAML front matter at byte 0, if any.
    pub front_matter: Option<FrontMatter>,
    /// Every section (headings and bold pseudo-headings), parents before children.
    pub sections: Vec<Section>,
    /// Every shell step.
    pub steps: Vec<Step>,
    /// Untagged blocks that are not shell (YAML, JSON, PromQL, SQL, logs, tables) and
    /// queries typed at database prompts: shown, never run as shell.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Fenced `promql`, `logql` and `sql` blocks: steps that run against a datasource.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<crate::query::QueryStep>,
    /// Every GFM table, typed when its header is recognised.
    pub tables: Vec<Table>,
    /// Typed data written as headings and lists instead of tables: severity levels with
    /// bullet fields, escalation paths as numbered lists of roles (`src/lists.rs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<ListData>,
    /// Every task-list item (and items recovered as checklist items).
    pub checklist: Vec<ChecklistItem>,
    /// Prometheus-style alert rules found in YAML blocks.
    pub alert_rules: Vec<AlertRule>,
    /// Every Markdown link.
    pub links: Vec<Link>,
}

impl Runbook {
    /// The role of a section, inherited from the nearest ancestor that has one.
    pub fn effective_role(&self, section: usize) -> Option<Role> {
        let mut cur = Some(section);
        let mut guard = 0;
        while let Some(i) = cur {
            let s = self.sections.get(i)?;
            if s.role.is_some() {
                return s.role;
            }
            cur = s.parent;
            guard += 1;
            if guard > self.sections.len() {
                return None;
            }
        }
        None
    }

    /// The section an anchor (`#anchor`, without the `#`) points to.
    pub fn section_by_anchor(&self, anchor: &str) -> Option<usize> {
        let anchor = anchor.to_lowercase();
        self.sections
            .iter()
            .position(|s| s.anchor.as_deref() == Some(anchor.as_str()))
    }

    /// Alert names this runbook handles: front matter `alerts` plus its alert rules.
    pub fn alerts_handled(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .front_matter
            .iter()
            .flat_map(|f| f.alerts.iter().cloned())
            .collect();
        for r in &self.alert_rules {
            if !out.contains(&r.name) {
                out.push(r.name.clone());
            }
        }
        out
    }

    /// The severity scale this runbook defines, worst first as written: the rows of its
    /// severity tables, then of its severity lists (see [`ListData`]).
    pub fn severity_levels(&self) -> impl Iterator<Item = &SeverityLevel> {
        let tables = self.tables.iter().map(|t| &t.data);
        let lists = self.lists.iter().map(|l| &l.data);
        tables.chain(lists).flat_map(|d| match d {
            TableData::Severity(rows) => rows.as_slice(),
            _ => &[],
        })
    }

    /// The escalation path this runbook writes down: its first contacts list (a numbered
    /// list of roles), else its first contacts table.
    pub fn escalation_path(&self) -> Option<&[Contact]> {
        let lists = self.lists.iter().map(|l| &l.data);
        let tables = self.tables.iter().map(|t| &t.data);
        lists.chain(tables).find_map(|d| match d {
            TableData::Contacts(rows) if !rows.is_empty() => Some(rows.as_slice()),
            _ => None,
        })
    }

    /// Checklist items that gate resolving an incident (stand-down and post-incident
    /// sections).
    pub fn resolution_gates(&self) -> impl Iterator<Item = &ChecklistItem> {
        self.checklist.iter().filter(|c| c.gate)
    }
}

/// YAML front matter. Unknown keys are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontMatter {
    /// The service this runbook is for.
    pub service: Option<String>,
    /// People or teams owning it.
    pub owners: Vec<String>,
    /// Alert names it handles.
    pub alerts: Vec<String>,
    /// Default severity of incidents it handles.
    pub severity: Option<String>,
    /// Named parameters: sources for placeholders.
    pub params: BTreeMap<String, Param>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Site risk rules (`risk:` list of `{match, level, reason}`).
    pub risk: Vec<sitrep_risk::CustomRule>,
    /// Keys we do not interpret, as JSON values.
    pub extra: BTreeMap<String, serde_json::Value>,
    /// The whole block including its `---` fences.
    pub span: Range<usize>,
}

/// A runbook parameter declared in front matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    /// Value used when nothing else binds it.
    pub default: Option<String>,
    /// What it is, for the person asked to fill it in.
    pub description: Option<String>,
    /// What its values must look like; `None`: the default rule (see
    /// [`check_value`](crate::check_value)).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<crate::ParamType>,
}

/// What a section is for, from its heading's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// What you see.
    Symptoms,
    /// Finding out what is wrong (diagnosis, investigation, triage, first 5 minutes).
    Diagnosis,
    /// Making it right (resolution, recovery, mitigation, response, immediate actions).
    Resolution,
    /// Checking that it is right again.
    Verification,
    /// Stopping it from happening again.
    Prevention,
    /// When and whom to call.
    Escalation,
    /// Capturing evidence before it is lost.
    Evidence,
    /// Conditions to close the incident (stand-down / post-incident checklist).
    StandDown,
    /// The post-mortem template.
    PostMortem,
}

impl Role {
    /// The kebab-case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Symptoms => "symptoms",
            Self::Diagnosis => "diagnosis",
            Self::Resolution => "resolution",
            Self::Verification => "verification",
            Self::Prevention => "prevention",
            Self::Escalation => "escalation",
            Self::Evidence => "evidence",
            Self::StandDown => "stand-down",
            Self::PostMortem => "post-mortem",
        }
    }
}

/// How a section was introduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SectionKind {
    /// An ATX or setext heading.
    Heading,
    /// A paragraph that is only bold text (`**Diagnosis:**`).
    BoldParagraph,
    /// A list item starting with bold text (`1. **Immediate** (< 5 min):`).
    BoldListItem,
    /// A heading recovered from a plain-text line of a page that lost its Markdown.
    Recovered,
}

/// A section of the document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// Heading text (inline markup removed, trailing colon dropped).
    pub heading: String,
    /// Nesting level: 1-6 for headings; pseudo-headings sit one below their parent.
    pub level: u8,
    /// How it was introduced.
    pub kind: SectionKind,
    /// Enclosing section.
    pub parent: Option<usize>,
    /// Role from its own wording (see [`Runbook::effective_role`] for inheritance).
    pub role: Option<Role>,
    /// GitHub-style anchor for real headings.
    pub anchor: Option<String>,
    /// The heading itself.
    pub span: Range<usize>,
    /// From the heading to the start of the next section at the same or a higher level.
    pub range: Range<usize>,
    /// 1-based line of the heading.
    pub line: usize,
    /// Whether anything but headings sits directly in it.
    pub has_content: bool,
}

/// One fenced shell block: a runnable step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Stable id: the `name` attribute, else heading-path slug plus ordinal.
    pub id: String,
    /// Title: enclosing list item text, else leading comment, else heading.
    pub title: String,
    /// Innermost enclosing section.
    pub section: Option<usize>,
    /// Role inherited from the sections around it.
    pub role: Option<Role>,
    /// Info-string language (`bash`, `sh`, `console`...), `None` when untagged.
    pub lang: Option<String>,
    /// Attributes from the info string.
    pub attributes: Attributes,
    /// The block's content, as the shell would get it.
    pub script: String,
    /// Commands in order, with their descriptions.
    pub commands: Vec<Command>,
    /// Parameters the step needs.
    pub placeholders: Vec<Placeholder>,
    /// Risk of the script, spans mapped to the original text.
    pub risk: sitrep_risk::ScriptRisk,
    /// The whole block including fences.
    pub span: Range<usize>,
    /// 1-based line of the opening fence.
    pub line: usize,
    /// 1-based line of the closing fence (or the block's last line).
    pub end_line: usize,
    /// True when the block was recovered from bare lines of a page without Markdown.
    pub recovered: bool,
}

impl Step {
    /// A hint for an `expect` check, from a transcript: the first output line shown
    /// under its last command that has output (often a table header such as `NAME`).
    pub fn expect_hint(&self) -> Option<&str> {
        self.commands
            .iter()
            .rev()
            .find_map(|c| c.example_output.as_deref())
            .and_then(|o| o.lines().map(str::trim).find(|l| !l.is_empty()))
    }
}

/// Attributes from the info string (Runme JSON or `{ key=value }`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Attributes {
    /// Runme `name`: the step's stable id.
    pub name: Option<String>,
    /// Runme `id`.
    pub id: Option<String>,
    /// Runme `cwd`.
    pub cwd: Option<String>,
    /// Runme `interpreter`.
    pub interpreter: Option<String>,
    /// Runme `excludeFromRunAll`.
    pub exclude_from_run_all: Option<bool>,
    /// Kill the step after this long.
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Option<Duration>,
    /// Ask before running.
    pub confirm: Option<bool>,
    /// The author's declared risk level (`read`, `write`, `unknown`, `destructive`).
    pub risk: Option<String>,
    /// What a good run looks like.
    pub expect: Option<Expect>,
    /// How many times to retry a failed run.
    pub retry: Option<u32>,
    /// Keep the output as evidence.
    pub capture: Option<bool>,
    /// Keys we do not know (lint reports them).
    pub unknown: BTreeMap<String, serde_json::Value>,
    /// Known keys whose value had the wrong type: key and problem (lint reports them).
    pub invalid: Vec<InvalidAttribute>,
    /// The attribute text in the info string, if any.
    pub span: Option<Range<usize>>,
}

/// A known attribute whose value could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidAttribute {
    /// The key.
    pub key: String,
    /// The value as written.
    pub value: String,
    /// Why it is wrong.
    pub problem: String,
}

/// The expectation a run is judged against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// Expected exit code.
    pub exit_code: Option<i64>,
    /// Text the output must contain.
    pub contains: Option<String>,
}

fn ser_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&humantime::format_duration(*d).to_string()),
        None => s.serialize_none(),
    }
}

/// Whole hours as `24h` (deadlines are written in hours: `1h`, `24h`, `48h`), anything
/// else as [`duration::format`](crate::duration::format) writes it.
fn ser_hours<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) if d.as_secs() % 3600 == 0 && d.subsec_nanos() == 0 && !d.is_zero() => {
            s.serialize_some(&format!("{}h", d.as_secs() / 3600))
        }
        Some(d) => s.serialize_some(&crate::duration::format(*d)),
        None => s.serialize_none(),
    }
}

/// One command of a step (continuation lines joined, heredocs included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    /// The command as it will run.
    pub text: String,
    /// The comment lines just before it.
    pub description: Option<String>,
    /// Its lines in the original text.
    pub span: Range<usize>,
    /// In a console transcript, the output printed under it (up to the next prompt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_output: Option<String>,
}

/// A block kept for reading, not run as shell: an untagged block that reads as another
/// language, or the queries typed at a database prompt in a transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reference {
    /// What it was taken for: `yaml`, `json`, `promql`, `logql`, `sql`, `redis`,
    /// `table`, `log`, `output`.
    pub kind: String,
    /// True for a query (PromQL, LogQL, SQL, redis): a query step can run it against a
    /// datasource.
    pub query: bool,
    /// Its text (for a database transcript, the queries with prompts removed).
    pub text: String,
    /// Innermost enclosing section.
    pub section: Option<usize>,
    /// The whole block including fences.
    pub span: Range<usize>,
    /// 1-based line of the opening fence.
    pub line: usize,
}

/// How a placeholder is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlaceholderSyntax {
    /// `<artifact-id>`
    Angle,
    /// `$VAR`
    Dollar,
    /// `${VAR}`
    Braced,
}

/// A value a step needs before it can run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placeholder {
    /// The name as written (`artifact-id`, `ATTACKER_IP`).
    pub name: String,
    /// How it is written (first occurrence).
    pub syntax: PlaceholderSyntax,
    /// Every occurrence in the original text.
    pub spans: Vec<Range<usize>>,
    /// True when every occurrence follows a `--` word in its command, so a value
    /// starting with `-` cannot be read as an option (see
    /// [`check_argument`](crate::check_argument)).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub after_double_dash: bool,
    /// Set when the runbook wrote it as prose in an assignment
    /// (`NODE='<value of instance label from alert>'`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prose: Option<ProseValue>,
}

/// A value written in prose: which variable it was for, and the alert label it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProseValue {
    /// The variable assigned (`NODE_NAME`).
    pub variable: String,
    /// The alert label the text names (`instance`): the placeholder binds from it. `None`:
    /// the placeholder is named after the variable.
    pub alert_label: Option<String>,
    /// The author's words, as written (`<value of instance label from alert>`).
    pub text: String,
}

/// A GFM table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Enclosing section.
    pub section: Option<usize>,
    /// Header cells.
    pub header: Vec<String>,
    /// Body rows (cells as plain text).
    pub rows: Vec<Vec<String>>,
    /// The typed reading, from the header.
    pub data: TableData,
    /// The table in the original text.
    pub span: Range<usize>,
}

/// What a table means.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "rows", rename_all = "kebab-case")]
pub enum TableData {
    /// Severity levels.
    Severity(Vec<SeverityLevel>),
    /// Symptom | Likely cause | First action.
    Triage(Vec<TriageRow>),
    /// Metric | Normal | Warning | Critical.
    Thresholds(Vec<Threshold>),
    /// Contacts or an escalation path.
    Contacts(Vec<Contact>),
    /// Anything else: see `header` and `rows`.
    Generic,
}

/// Typed rows written as headings and lists: the same data a table with a recognised
/// header gives (`kind`: `severity` or `contacts`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListData {
    /// The section holding the list (for severity headings, their parent).
    pub section: Option<usize>,
    /// The rows.
    #[serde(flatten)]
    pub data: TableData,
    /// From the first row to the end of the last, in the original text.
    pub span: Range<usize>,
    /// 1-based line of the first row.
    pub line: usize,
}

/// A row of a severity table, or a severity level written as a heading or list item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityLevel {
    /// `P1 - Critical`, `SEV2`...
    pub level: String,
    /// What qualifies.
    pub description: Option<String>,
    /// Response time as written.
    pub response_time: Option<String>,
    /// Response time as a duration, when it says one (`Immediate` is zero).
    #[serde(serialize_with = "ser_duration")]
    pub response: Option<Duration>,
    /// Escalation as written (`After 30 minutes to Engineering Manager`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<String>,
    /// How long before escalating, when the escalation says (`30m`).
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub escalate_after: Option<Duration>,
    /// Status-update cadence, when it says one (`Updates every 30 minutes`: `30m`).
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_every: Option<Duration>,
    /// Examples.
    pub examples: Option<String>,
    /// The row in the original text: a table row, a list item with its fields, or a
    /// level heading's section.
    pub span: Range<usize>,
}

impl SeverityLevel {
    /// The level's name, squashed for matching a scale: `SEV-1 - Critical` and `Sev 1`
    /// are `SEV1`, `P0 (Critical)` is `P0`, `Severity 2` is `SEV2`. `None` when the row
    /// does not start with one (`Critical`).
    #[must_use]
    pub fn name(&self) -> Option<String> {
        crate::lists::level_name(&self.level)
    }
}

/// A row of a triage matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriageRow {
    /// What you see.
    pub symptom: String,
    /// What it probably is.
    pub likely_cause: Option<String>,
    /// What to do first.
    pub first_action: Option<String>,
}

/// A row of a thresholds table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Threshold {
    /// Metric name.
    pub metric: String,
    /// Normal range.
    pub normal: Option<String>,
    /// Warning level.
    pub warning: Option<String>,
    /// Critical level.
    pub critical: Option<String>,
    /// The PromQL expression that measures it (a `PromQL`/`Query` column, or front matter
    /// `metrics: {NAME: EXPR}`): the row is then a check sitrep can evaluate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// A row of a contacts / escalation-path table: every cell by its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// Who (name, team, role or level column).
    pub who: String,
    /// Header -> cell for the other columns (email, phone, channel, when...).
    pub fields: BTreeMap<String, String>,
}

impl Contact {
    /// How long after declaration this step of the path is reached, when a field says
    /// (`after: 30 minutes`, `when: after 1 hour`, or notes such as
    /// `#leads, after 15 minutes`).
    #[must_use]
    pub fn after(&self) -> Option<Duration> {
        ["after", "escalate after", "when", "time", "notes"]
            .iter()
            .filter_map(|k| self.fields.get(*k))
            .find_map(|v| crate::text::first_duration(v))
    }
}

/// A task-list item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecklistItem {
    /// Item text.
    pub text: String,
    /// `[x]`.
    pub checked: bool,
    /// Enclosing section.
    pub section: Option<usize>,
    /// True in stand-down / post-incident sections: the incident resolves only when ticked.
    pub gate: bool,
    /// Position in a numbered list (`1. [ ]`).
    pub number: Option<u64>,
    /// True when recovered from a list without `[ ]` boxes.
    pub recovered: bool,
    /// A deadline after resolution, from the heading above it ("Short term (within 24
    /// hours)"): the item is follow-up work, an action item due this long after the
    /// incident resolves, and never a gate.
    #[serde(serialize_with = "ser_hours", skip_serializing_if = "Option::is_none")]
    pub due: Option<Duration>,
    /// The item in the original text.
    pub span: Range<usize>,
}

/// A Prometheus alerting rule found in a YAML block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    /// `alert:`
    pub name: String,
    /// `expr:`
    pub expr: String,
    /// `for:` as written.
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// Rule group name, for rule files.
    pub group: Option<String>,
    /// `labels:`
    pub labels: BTreeMap<String, String>,
    /// `annotations:`
    pub annotations: BTreeMap<String, String>,
    /// Section holding the rule.
    pub section: Option<usize>,
    /// Link target of an "Action: see [..](#anchor)" note, as written.
    pub action: Option<String>,
    /// The section that handles it: the action target if it resolves, else `section`.
    pub handler: Option<usize>,
    /// The YAML block in the original text.
    pub span: Range<usize>,
}

/// Where a link points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LinkTarget {
    /// `#anchor` in this file.
    Anchor {
        /// Without the `#`.
        anchor: String,
    },
    /// A relative file path, maybe with an anchor.
    File {
        /// As written, without the anchor.
        path: String,
        /// Without the `#`.
        anchor: Option<String>,
    },
    /// `http(s):`, `mailto:` and other absolute URLs.
    External {
        /// As written.
        url: String,
    },
}

/// A Markdown link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Link text.
    pub text: String,
    /// Where it points.
    pub target: LinkTarget,
    /// Enclosing section.
    pub section: Option<usize>,
    /// The link in the original text.
    pub span: Range<usize>,
}
