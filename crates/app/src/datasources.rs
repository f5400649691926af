//! `[datasources]`: where query steps run (Prometheus, Loki, PostgreSQL, MySQL), and
//! the one datasource a query step resolves to. Secrets (a bearer token, a database URL
//! with a password) are named by environment variable or file and read when a query
//! runs: the config and every record hold only the name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
pub use sitrep_executor::query::DatasourceKind;
use sitrep_executor::query::{Datasource, QueryLimits};
use sitrep_runbook::QueryLanguage;

use crate::error::AppError;

/// Longest a token file may be: a token, not a document.
const MAX_TOKEN_BYTES: u64 = 16 * 1024;

/// `[datasources.NAME]` tables, by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct DatasourcesConfig(pub BTreeMap<String, DatasourceConfig>);

/// One datasource.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasourceConfig {
    /// `prometheus`, `loki`, `postgres` or `mysql`.
    #[serde(deserialize_with = "de_kind")]
    pub kind: DatasourceKind,
    /// Base URL (`http://prometheus:9090`) or database URL without a password.
    #[serde(default)]
    pub url: Option<String>,
    /// An environment variable holding the URL instead (a database URL with a password).
    #[serde(default)]
    pub url_env: Option<String>,
    /// An environment variable holding a bearer token (Prometheus, Loki).
    #[serde(default)]
    pub token_env: Option<String>,
    /// A file holding a bearer token (Prometheus, Loki); trailing whitespace is dropped.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// How long a query may take (default 30s).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub timeout: Option<Duration>,
    /// Rows (or series) kept of a result (default 1000).
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Bytes kept of a result (default 1 MiB).
    #[serde(default)]
    pub max_bytes: Option<usize>,
}

fn de_kind<'de, D: Deserializer<'de>>(d: D) -> Result<DatasourceKind, D::Error> {
    let s = String::deserialize(d)?;
    match s.as_str() {
        "prometheus" => Ok(DatasourceKind::Prometheus),
        "loki" => Ok(DatasourceKind::Loki),
        "postgres" | "postgresql" => Ok(DatasourceKind::Postgres),
        "mysql" | "mariadb" => Ok(DatasourceKind::Mysql),
        other => Err(serde::de::Error::custom(format!(
            "unknown datasource kind {other:?}: prometheus, loki, postgres or mysql"
        ))),
    }
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("bad duration {s:?}: {e}")))
}

/// The language a datasource kind runs.
fn speaks(kind: DatasourceKind, language: QueryLanguage) -> bool {
    kind.language() == language.as_str()
}

impl DatasourcesConfig {
    /// The datasource a query step runs on: the one it names, which must speak its
    /// language, else the only one configured that does.
    pub fn resolve(
        &self,
        name: Option<&str>,
        language: QueryLanguage,
    ) -> Result<(String, &DatasourceConfig), AppError> {
        if let Some(name) = name {
            let ds = self.0.get(name).ok_or_else(|| AppError::NotFound {
                what: "datasource",
                id: name.to_owned(),
            })?;
            if !speaks(ds.kind, language) {
                return Err(AppError::invalid(
                    "datasource",
                    format!(
                        "datasource {name} is {}, which does not run {}",
                        ds.kind.as_str(),
                        language.as_str()
                    ),
                ));
            }
            return Ok((name.to_owned(), ds));
        }
        let mut fitting = self.0.iter().filter(|(_, d)| speaks(d.kind, language));
        match (fitting.next(), fitting.next()) {
            (Some((n, d)), None) => Ok((n.clone(), d)),
            (None, _) => Err(AppError::invalid(
                "datasource",
                format!(
                    "no datasource runs {} ([datasources] in the config)",
                    language.as_str()
                ),
            )),
            (Some(_), Some(_)) => Err(AppError::invalid(
                "datasource",
                format!(
                    "several datasources run {}: name one (`datasource=NAME` on the block, or `datasources:` in the front matter)",
                    language.as_str()
                ),
            )),
        }
    }
}

impl DatasourceConfig {
    /// The executor's datasource, with the URL and token read now.
    pub fn open(&self, name: &str) -> Result<Datasource, AppError> {
        let url = match (&self.url, &self.url_env) {
            (_, Some(var)) => std::env::var(var).map_err(|_| {
                AppError::invalid(
                    "datasource",
                    format!("datasource {name}: environment variable {var} (url_env) is not set"),
                )
            })?,
            (Some(u), None) => u.clone(),
            (None, None) => {
                return Err(AppError::invalid(
                    "datasource",
                    format!("datasource {name} has neither url nor url_env"),
                ));
            }
        };
        let bearer_token = match (&self.token_env, &self.token_file) {
            (Some(var), _) => Some(std::env::var(var).map_err(|_| {
                AppError::invalid(
                    "datasource",
                    format!("datasource {name}: environment variable {var} (token_env) is not set"),
                )
            })?),
            (None, Some(path)) => Some(read_token(path)?),
            (None, None) => None,
        };
        Ok(Datasource {
            name: name.to_owned(),
            kind: self.kind,
            url,
            bearer_token,
        })
    }

    /// Its limits, defaults filled in.
    #[must_use]
    pub fn limits(&self) -> QueryLimits {
        let d = QueryLimits::default();
        QueryLimits {
            timeout: self.timeout.unwrap_or(d.timeout),
            max_rows: self.max_rows.unwrap_or(d.max_rows).clamp(1, 100_000),
            max_bytes: self.max_bytes.unwrap_or(d.max_bytes).clamp(1024, 64 << 20),
        }
    }
}

fn read_token(path: &std::path::Path) -> Result<String, AppError> {
    let meta = std::fs::metadata(path).map_err(|e| AppError::io(path, e))?;
    if meta.len() > MAX_TOKEN_BYTES {
        return Err(AppError::invalid(
            "datasource",
            format!(
                "{} is larger than a token ({MAX_TOKEN_BYTES} bytes)",
                path.display()
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| AppError::io(path, e))?;
    Ok(text.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> DatasourcesConfig {
        toml::from_str::<BTreeMap<String, DatasourcesConfig>>(text)
            .map(|mut m| m.remove("datasources").unwrap_or_default())
            .unwrap()
    }

    #[test]
    fn resolves_by_name_or_the_only_one_of_a_language() {
        let c = config(
            "[datasources.prom]\nkind = \"prometheus\"\nurl = \"http://p:9090\"\n\
             [datasources.db1]\nkind = \"postgres\"\nurl = \"postgres://a/b\"\n\
             [datasources.db2]\nkind = \"mysql\"\nurl = \"mysql://a/b\"\n",
        );
        assert_eq!(c.resolve(None, QueryLanguage::Promql).unwrap().0, "prom");
        assert_eq!(c.resolve(Some("db2"), QueryLanguage::Sql).unwrap().0, "db2");
        let e = c.resolve(None, QueryLanguage::Sql).unwrap_err();
        assert!(e.to_string().contains("several datasources run sql"), "{e}");
        let e = c.resolve(None, QueryLanguage::Logql).unwrap_err();
        assert!(e.to_string().contains("no datasource runs logql"), "{e}");
        let e = c.resolve(Some("prom"), QueryLanguage::Sql).unwrap_err();
        assert!(e.to_string().contains("does not run sql"), "{e}");
        assert!(matches!(
            c.resolve(Some("nope"), QueryLanguage::Sql),
            Err(AppError::NotFound { .. })
        ));
    }

    #[test]
    fn secrets_are_read_when_opened_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cr3t-token\n").unwrap();
        let c = config(&format!(
            "[datasources.prom]\nkind = \"prometheus\"\nurl = \"http://p:9090\"\ntoken_file = {:?}\n",
            token.display().to_string()
        ));
        let ds = c.0["prom"].open("prom").unwrap();
        assert_eq!(ds.bearer_token.as_deref(), Some("s3cr3t-token"));
        assert!(!format!("{ds:?}").contains("s3cr3t"));
        let bad = toml::from_str::<BTreeMap<String, DatasourcesConfig>>(
            "[datasources.x]\nkind = \"oracle\"\nurl = \"x\"\n",
        );
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("unknown datasource kind")
        );
    }
}
