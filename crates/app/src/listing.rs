//! What an incident list asks for, shared by the UI list and `sitrep incident list`:
//! status words (`open`, `all` or statuses) to the store's filter, and the search and
//! age match over a listed incident. Pure.

use sitrep_store::Incident;

use crate::AppError;
use crate::lifecycle::Status;

/// The statuses a list asks the store for: `open` is every open status, `all` is no
/// restriction (an empty list), anything else must name a status. Empty words mean `open`.
///
/// # Errors
/// [`AppError::Invalid`] (field `status`) for a word that is none of these.
pub fn statuses(words: &[String]) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::new();
    let words: Vec<&str> = words.iter().map(|w| w.trim()).collect();
    if words.is_empty() {
        return Ok(Status::names(&Status::OPEN));
    }
    for w in words {
        if w.eq_ignore_ascii_case("all") {
            return Ok(Vec::new());
        }
        let add = if w.eq_ignore_ascii_case("open") {
            Status::names(&Status::OPEN)
        } else {
            let st: Status = w.parse().map_err(|_| {
                AppError::invalid(
                    "status",
                    format!(
                        "unknown status {w:?} (open, all, triggered, acknowledged, mitigated, resolved)"
                    ),
                )
            })?;
            vec![st.as_str().to_owned()]
        };
        for s in add {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Whether `inc` matches every word of `q` (case-insensitive, in its title, service or
/// alert group key, which holds the alert labels it was grouped by) and was declared at
/// or after `since` (milliseconds).
#[must_use]
pub fn matches(inc: &Incident, q: &str, since: i64) -> bool {
    let hay = format!(
        "{} {} {}",
        inc.title,
        inc.service.as_deref().unwrap_or(""),
        inc.group_key.as_deref().unwrap_or("")
    )
    .to_lowercase();
    inc.created_ms >= since
        && q.split_whitespace()
            .all(|w| hay.contains(&w.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn status_words_name_open_all_or_statuses() {
        let open = Status::names(&Status::OPEN);
        assert_eq!(statuses(&[]).unwrap(), open);
        assert_eq!(statuses(&words(&["open"])).unwrap(), open);
        assert!(statuses(&words(&["all"])).unwrap().is_empty());
        assert!(statuses(&words(&["resolved", "ALL"])).unwrap().is_empty());
        assert_eq!(
            statuses(&words(&["Resolved", "triggered", "resolved"])).unwrap(),
            ["resolved", "triggered"]
        );
        assert_eq!(statuses(&words(&["open", "resolved"])).unwrap().len(), 4);
        let err = statuses(&words(&["closed"])).unwrap_err().to_string();
        assert!(err.contains("\"closed\"") && err.contains("all"), "{err}");
    }

    #[test]
    fn search_looks_at_title_service_and_alert_labels() {
        let inc = Incident {
            id: "i".into(),
            number: 1,
            title: "Checkout 503s".into(),
            severity: "SEV2".into(),
            status: "triggered".into(),
            service: Some("shop".into()),
            runbooks: vec![],
            roles: Default::default(),
            group_key: Some("{}:{alertname=\"HighErrorRate\"}".into()),
            created_ms: 1_000,
            acknowledged_ms: None,
            mitigated_ms: None,
            resolved_ms: None,
            last_update_ms: None,
            updated_ms: 1_000,
            version: 1,
        };
        for (q, since, want) in [
            ("", 0, true),
            ("checkout", 0, true),
            ("CHECKOUT shop", 0, true),
            ("higherrorrate", 0, true),
            ("checkout payments", 0, false),
            ("", 2_000, false),
        ] {
            assert_eq!(matches(&inc, q, since), want, "{q:?} since {since}");
        }
    }
}
