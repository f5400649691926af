//! The sealed records of a delivery's alert changes: one `alert.firing` or
//! `alert.resolved` record per incident and delivery that lists its alerts (up to
//! [`PER_RECORD`]), not one record per alert. A delivery of ten new alerts seals one
//! ledger entry instead of ten, which is most of what ingestion costs
//! (docs/benchmarks.md, "Ingest side by side with Alertmanager"); the format is in
//! docs/incidents.md, "Alert records".

use sitrep_ledger::Record;

use crate::events;
use crate::identity::Principal;

/// Alerts one record lists at most (keys `alert.00` to `alert.31` sort in order).
pub const PER_RECORD: usize = 32;
/// Encoded bytes of one record's alert entries at most, well under the ledger's 64 KiB
/// record limit with the group key and names beside them.
const BUDGET: usize = 48 << 10;
/// Encoded bytes of one alert's labels or summary at most; longer text is cut with a
/// marker (the alert row and the raw payload keep it whole).
const TEXT: usize = 4 << 10;
/// Encoded bytes of the group key and of the list of alert names at most.
const HEAD_TEXT: usize = 4 << 10;

/// One alert as a record lists it.
pub(crate) struct Entry {
    pub fingerprint: String,
    pub labels: String,
    pub alertname: Option<String>,
    /// Already redacted.
    pub summary: Option<String>,
}

/// An entry with its values fitted to [`TEXT`] once, and its encoded size in a record.
struct Fitted {
    fingerprint: String,
    labels: String,
    summary: Option<String>,
    alertname: Option<String>,
    size: usize,
}

impl Fitted {
    fn new(e: Entry) -> Fitted {
        let (fingerprint, labels) = (fit(&e.fingerprint, TEXT), fit(&e.labels, TEXT));
        let summary = e.summary.as_deref().map(|s| fit(s, TEXT));
        // Each field costs its key (`alert.NN.labels`: at most 20 bytes), its value
        // and four bytes of quotes, colon and comma.
        let size = [Some(&fingerprint), Some(&labels), summary.as_ref()]
            .into_iter()
            .flatten()
            .map(|v| 24 + encoded(v))
            .sum();
        Fitted {
            fingerprint,
            labels,
            summary,
            alertname: e.alertname,
            size,
        }
    }

    /// The entry's payload fields at position `i`.
    fn fields(&self, i: usize) -> Vec<(String, String)> {
        let mut out = vec![
            (
                format!("alert.{i:02}.fingerprint"),
                self.fingerprint.clone(),
            ),
            (format!("alert.{i:02}.labels"), self.labels.clone()),
        ];
        if let Some(s) = &self.summary {
            out.push((format!("alert.{i:02}.summary"), s.clone()));
        }
        out
    }
}

/// A delivery group's alert changes, by event type and incident, in first-seen order.
#[derive(Default)]
pub(crate) struct AlertRecords {
    lists: Vec<(&'static str, String, Vec<Fitted>)>,
}

impl AlertRecords {
    pub(crate) fn push(&mut self, kind: &'static str, incident: &str, entry: Entry) {
        match self
            .lists
            .iter_mut()
            .find(|(k, i, _)| *k == kind && i == incident)
        {
            Some((.., list)) => list.push(Fitted::new(entry)),
            None => self
                .lists
                .push((kind, incident.to_owned(), vec![Fitted::new(entry)])),
        }
    }

    /// The records: each list split into records of at most [`PER_RECORD`] alerts and
    /// [`BUDGET`] encoded bytes, every one naming the group, its alert count and the
    /// distinct alert names in it.
    pub(crate) fn records(self, group: &str, now: i64, actor: &Principal) -> Vec<Record> {
        let mut out = Vec::new();
        for (kind, incident, list) in &self.lists {
            for chunk in chunks(list) {
                out.push(one(kind, incident, group, chunk, now, actor));
            }
        }
        out
    }
}

/// `list` cut into runs of at most [`PER_RECORD`] entries and [`BUDGET`] bytes.
fn chunks(list: &[Fitted]) -> Vec<&[Fitted]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, entry) in list.iter().enumerate() {
        let more = entry.size;
        let n = i - start;
        if n > 0 && (n == PER_RECORD || size + more > BUDGET) {
            out.push(&list[start..i]);
            (start, size) = (i, 0);
        }
        size += more;
    }
    if start < list.len() {
        out.push(&list[start..]);
    }
    out
}

/// One record listing `entries`.
fn one(
    kind: &str,
    incident: &str,
    group: &str,
    entries: &[Fitted],
    now: i64,
    actor: &Principal,
) -> Record {
    let mut names: Vec<&str> = Vec::new();
    for a in entries.iter().filter_map(|e| e.alertname.as_deref()) {
        if !names.contains(&a) {
            names.push(a);
        }
    }
    let mut head = vec![
        ("alerts", entries.len().to_string()),
        ("group", fit(group, HEAD_TEXT)),
    ];
    if !names.is_empty() {
        head.push(("alertname", fit(&names.join(", "), HEAD_TEXT)));
    }
    let mut r = events::record(kind, incident, now, actor, head);
    for (i, e) in entries.iter().enumerate() {
        r.payload.extend(e.fields(i));
    }
    r
}

/// The length of `text` as a JSON string in a record.
fn encoded(text: &str) -> usize {
    serde_json::to_string(text).map_or(usize::MAX, |j| j.len())
}

/// `text` cut (with `events::cut`'s marker) until it encodes in at most `max` bytes:
/// JSON escaping can make a control character six bytes, so a byte cut alone would not
/// bound the record.
fn fit(text: &str, max: usize) -> String {
    let mut limit = max;
    loop {
        let t = events::cut(text, limit);
        if encoded(&t) <= max || limit <= 64 {
            return t;
        }
        limit /= 2;
    }
}

/// How many alerts a record of an alert event lists: its `alerts` field, or 1 for a
/// record sealed before alert records listed several (one alert, flat fields).
#[must_use]
pub fn alert_count(payload: &std::collections::BTreeMap<String, String>) -> usize {
    payload
        .get("alerts")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize, labels: String) -> Entry {
        Entry {
            fingerprint: format!("{i:016x}"),
            labels,
            alertname: Some(format!("A{}", i % 3)),
            summary: Some("disk full".into()),
        }
    }

    fn sitrep() -> Principal {
        Principal::sitrep("alerts:test")
    }

    #[test]
    fn a_delivery_of_ten_alerts_is_one_record_listing_them() {
        let mut recs = AlertRecords::default();
        for i in 0..10 {
            recs.push(events::ALERT_FIRING, "inc-1", entry(i, format!("i={i}")));
        }
        recs.push(events::ALERT_RESOLVED, "inc-0", entry(99, "old".into()));
        let out = recs.records("g", 5, &sitrep());
        assert_eq!(out.len(), 2);
        let r = &out[0];
        assert_eq!(r.event_type, "alert.firing");
        assert_eq!(r.incident.as_deref(), Some("inc-1"));
        assert_eq!(r.payload["alerts"], "10");
        assert_eq!(r.payload["alertname"], "A0, A1, A2");
        assert_eq!(r.payload["alert.09.labels"], "i=9");
        assert_eq!(r.payload["alert.00.fingerprint"], format!("{:016x}", 0));
        assert_eq!(alert_count(&r.payload), 10);
        assert_eq!(out[1].event_type, "alert.resolved");
        assert_eq!(
            out[1].payload["alert.00.fingerprint"],
            format!("{:016x}", 99)
        );
        assert!(r.encode().is_ok());
    }

    #[test]
    fn large_lists_split_by_count_and_by_bytes_and_every_record_encodes() {
        // 70 small alerts: 32 + 32 + 6.
        let mut recs = AlertRecords::default();
        for i in 0..70 {
            recs.push(events::ALERT_FIRING, "inc", entry(i, "a=b".into()));
        }
        let counts: Vec<usize> = recs
            .records("g", 1, &sitrep())
            .iter()
            .map(|r| alert_count(&r.payload))
            .collect();
        assert_eq!(counts, [32, 32, 6]);

        // Hostile labels: control characters escape to six bytes each.
        let mut recs = AlertRecords::default();
        for i in 0..20 {
            recs.push(
                events::ALERT_FIRING,
                "inc",
                entry(i, "\u{1}".repeat(50_000)),
            );
        }
        let out = recs.records(&"\u{2}".repeat(100_000), 1, &sitrep());
        assert!(out.len() > 1);
        assert_eq!(
            out.iter().map(|r| alert_count(&r.payload)).sum::<usize>(),
            20
        );
        for r in &out {
            let bytes = r.encode().expect("fits the ledger's record limit");
            assert!(bytes.len() < sitrep_ledger::MAX_RECORD_LEN);
            assert!(r.payload["alert.00.labels"].ends_with("bytes cut]"));
        }
    }

    #[test]
    fn records_sealed_before_lists_count_one_alert() {
        let old = std::collections::BTreeMap::from([("fingerprint".to_owned(), "x".to_owned())]);
        assert_eq!(alert_count(&old), 1);
    }
}
