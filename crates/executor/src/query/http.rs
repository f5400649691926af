//! The Prometheus and Loki HTTP APIs: one request per query (bounded body, no redirects,
//! no proxy from the environment), and their JSON answers read into a [`QueryResult`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Datasource, DatasourceKind, QueryError, QueryLimits, QueryResult, Series, Window};

/// Sends the query and reads the answer.
pub(super) async fn run(
    ds: &Datasource,
    query: &str,
    window: Option<Window>,
    now_s: f64,
    limits: &QueryLimits,
) -> Result<QueryResult, QueryError> {
    let unreachable = |why: String| QueryError::Unreachable {
        name: ds.name.clone(),
        url: super::shown_url(&ds.url),
        why,
    };
    let client = reqwest::Client::builder()
        // A datasource that redirects is misconfigured; following it would send the
        // query (and the token) somewhere nobody reviewed.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(limits.timeout)
        .build()
        .map_err(|e| unreachable(without_url(&e)))?;
    let url = request_url(ds, query, window, now_s, limits);
    let mut req = client.get(url);
    if let Some(token) = &ds.bearer_token {
        req = req.bearer_auth(token);
    }
    let mut resp = req.send().await.map_err(|e| unreachable(without_url(&e)))?;
    let status = resp.status();
    let cap = limits.max_bytes.saturating_mul(4);
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| unreachable(without_url(&e)))?
    {
        if body.len() + chunk.len() > cap {
            return Err(QueryError::BadResponse {
                name: ds.name.clone(),
                why: format!("the response is larger than {cap} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    let parsed = if ds.kind == DatasourceKind::Loki {
        parse_loki(&body, limits)
    } else {
        parse_prometheus(&body, limits)
    };
    parsed.map_err(|e| match e {
        Parsed::Refused(why) => QueryError::Refused {
            name: ds.name.clone(),
            why,
        },
        // Loki answers a bad query with plain text and a 4xx: its words are the reason.
        Parsed::Bad(_) if status.is_client_error() => QueryError::Refused {
            name: ds.name.clone(),
            why: format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(500)]).trim()
            ),
        },
        Parsed::Bad(why) => QueryError::BadResponse {
            name: ds.name.clone(),
            why: format!("HTTP {status}: {why}"),
        },
    })
}

/// The GET URL of a query (built apart: the form serializer is not `Send` and must not
/// live across an await).
fn request_url(
    ds: &Datasource,
    query: &str,
    window: Option<Window>,
    now_s: f64,
    limits: &QueryLimits,
) -> String {
    let base = ds.url.trim_end_matches('/');
    let loki = ds.kind == DatasourceKind::Loki;
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("query", query);
    let path = match window {
        Some(w) => {
            form.append_pair("start", &time_param(w.start, loki));
            form.append_pair("end", &time_param(w.end, loki));
            form.append_pair("step", &format!("{}s", w.step.as_secs().max(1)));
            if loki {
                form.append_pair("limit", &limits.max_rows.to_string());
            }
            if loki {
                "/loki/api/v1/query_range"
            } else {
                "/api/v1/query_range"
            }
        }
        None => {
            form.append_pair("time", &time_param(now_s, loki));
            if loki {
                form.append_pair("limit", &limits.max_rows.to_string());
            }
            if loki {
                "/loki/api/v1/query"
            } else {
                "/api/v1/query"
            }
        }
    };
    format!("{base}{path}?{}", form.finish())
}

/// reqwest's error text names the full URL (which may carry the query's values): keep
/// only what kind of failure it was.
fn without_url(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "redirected"
    } else if e.is_body() || e.is_decode() {
        "the body could not be read"
    } else {
        "request failed"
    };
    what.to_owned()
}

/// Prometheus takes seconds; Loki nanoseconds as an integer.
fn time_param(s: f64, loki: bool) -> String {
    if loki {
        format!("{}", (s * 1e9) as i128)
    } else {
        format!("{s:.3}")
    }
}

/// Why a body gave no result: the API said error, or it is not the API's JSON.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `"status": "error"` with its message.
    Refused(String),
    /// Not readable as the API's response.
    Bad(String),
}

fn envelope(body: &[u8]) -> Result<(String, Value), Parsed> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| Parsed::Bad(format!("not JSON: {e}")))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        let why = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error message");
        let kind = v
            .get("errorType")
            .and_then(Value::as_str)
            .unwrap_or("error");
        return Err(Parsed::Refused(format!("{kind}: {why}")));
    }
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    let ty = data
        .get("resultType")
        .and_then(Value::as_str)
        .ok_or_else(|| Parsed::Bad("no data.resultType".into()))?
        .to_owned();
    let result = data.get("result").cloned().unwrap_or(Value::Null);
    Ok((ty, result))
}

/// Reads a Prometheus `/api/v1/query` or `/api/v1/query_range` answer.
pub fn parse_prometheus(body: &[u8], limits: &QueryLimits) -> Result<QueryResult, Parsed> {
    let (ty, result) = envelope(body)?;
    metric_result(&ty, &result, limits)
}

/// Reads a Loki `/loki/api/v1/query` or `/loki/api/v1/query_range` answer: log streams
/// become a table of time, labels and line; metric queries read as Prometheus'.
pub fn parse_loki(body: &[u8], limits: &QueryLimits) -> Result<QueryResult, Parsed> {
    let (ty, result) = envelope(body)?;
    if ty != "streams" {
        return metric_result(&ty, &result, limits);
    }
    let mut out = QueryResult::table(vec!["time".into(), "labels".into(), "line".into()]);
    let mut used = 0;
    let mut lines: Vec<(String, String, String)> = Vec::new();
    for stream in array(&result)? {
        let labels = labels(stream.get("stream"));
        let shown = labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        for entry in array(stream.get("values").unwrap_or(&Value::Null))? {
            let ts = entry.get(0).and_then(Value::as_str).unwrap_or_default();
            let line = entry.get(1).and_then(Value::as_str).unwrap_or_default();
            lines.push((ts.to_owned(), format!("{{{shown}}}"), line.to_owned()));
        }
    }
    // Newest first, as Loki's default direction (backward) lists them.
    lines.sort_by(|a, b| {
        let key = |t: &str| t.parse::<u128>().unwrap_or(0);
        key(&b.0).cmp(&key(&a.0))
    });
    for (ts, labels, line) in lines {
        let row = vec![
            Value::String(ts),
            Value::String(labels),
            Value::String(line),
        ];
        if !out.push_row(row, &mut used, limits) {
            break;
        }
    }
    Ok(out)
}

fn array(v: &Value) -> Result<&Vec<Value>, Parsed> {
    v.as_array()
        .ok_or_else(|| Parsed::Bad("data.result is not a list".into()))
}

fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// `[1435781451.781, "1"]`: seconds and the value as written.
fn point(v: &Value) -> Option<(f64, String)> {
    let t = v.get(0)?;
    let t = t.as_f64().or_else(|| t.as_str()?.parse().ok())?;
    Some((t, v.get(1)?.as_str()?.to_owned()))
}

fn metric_result(ty: &str, result: &Value, limits: &QueryLimits) -> Result<QueryResult, Parsed> {
    let mut used = 0;
    match ty {
        "vector" => {
            let items = array(result)?;
            let rows: Vec<(BTreeMap<String, String>, (f64, String))> = items
                .iter()
                .filter_map(|s| Some((labels(s.get("metric")), point(s.get("value")?)?)))
                .collect();
            let mut names: Vec<String> = rows
                .iter()
                .flat_map(|(l, _)| l.keys().cloned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            names.push("value".into());
            let mut out = QueryResult::table(names.clone());
            for (l, (_, v)) in rows {
                let row = names
                    .iter()
                    .map(|n| match n.as_str() {
                        "value" => Value::String(v.clone()),
                        n => Value::String(l.get(n).cloned().unwrap_or_default()),
                    })
                    .collect();
                if !out.push_row(row, &mut used, limits) {
                    break;
                }
            }
            Ok(out)
        }
        "matrix" => {
            let mut out = QueryResult {
                kind: "series",
                ..QueryResult::default()
            };
            for s in array(result)? {
                let points = array(s.get("values").unwrap_or(&Value::Null))?
                    .iter()
                    .filter_map(point)
                    .collect();
                let series = Series {
                    labels: labels(s.get("metric")),
                    points,
                };
                if !out.push_series(series, &mut used, limits) {
                    break;
                }
            }
            Ok(out)
        }
        "scalar" | "string" => {
            let (t, v) =
                point(result).ok_or_else(|| Parsed::Bad(format!("a {ty} without a value")))?;
            let mut out = QueryResult::table(vec!["time".into(), "value".into()]);
            out.kind = "scalar";
            out.push_row(vec![Value::from(t), Value::String(v)], &mut used, limits);
            Ok(out)
        }
        other => Err(Parsed::Bad(format!("unknown resultType {other:?}"))),
    }
}
