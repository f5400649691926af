//! A query step's result (its JSON evidence blob) as HTML: a table, or for a range query
//! a small inline SVG line chart (no script, no inline style: the CSP holds). Every
//! string from the result is escaped; nothing else from it reaches the page.

use std::fmt::Write;

use serde_json::Value;

/// Most series drawn; the rest are listed as left out.
const MAX_SERIES: usize = 8;
const W: f64 = 600.0;
const H: f64 = 160.0;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => esc(s),
        Value::Null => "<span class=\"muted\">NULL</span>".to_owned(),
        other => esc(&other.to_string()),
    }
}

/// The HTML for a stored query result, or `None` when the blob is not one (a command's
/// output).
pub(super) fn render(blob: &str) -> Option<String> {
    let v: Value = serde_json::from_str(blob).ok()?;
    let result = v.get("result")?;
    let kind = result.get("kind")?.as_str()?;
    let mut out = format!(
        "<p class=\"small muted\" id=\"query-source\">{} on {}</p>",
        esc(v.get("language").and_then(Value::as_str).unwrap_or("")),
        esc(v.get("datasource").and_then(Value::as_str).unwrap_or(""))
    );
    match kind {
        "series" => out.push_str(&chart(result.get("series")?.as_array()?)),
        _ => out.push_str(&table(result)),
    }
    if result.get("truncated").and_then(Value::as_bool) == Some(true) {
        out.push_str("<p class=\"small muted\" id=\"query-truncated\">Cut to the datasource's row or byte limit.</p>");
    }
    Some(out)
}

fn table(result: &Value) -> String {
    let empty = Vec::new();
    let columns = result
        .get("columns")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let rows = result
        .get("rows")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if rows.is_empty() {
        return "<p class=\"muted\" id=\"query-empty\">The query returned no rows.</p>".to_owned();
    }
    let mut out = String::from("<table class=\"query-result\" id=\"query-table\"><thead><tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", cell(c));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r.as_array().unwrap_or(&empty) {
            let _ = write!(out, "<td>{}</td>", cell(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn points(s: &Value) -> Vec<(f64, f64)> {
    s.get("points")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| {
                    let t = p.get(0)?.as_f64()?;
                    let v: f64 = p.get(1)?.as_str()?.parse().ok()?;
                    (t.is_finite() && v.is_finite()).then_some((t, v))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn label_text(s: &Value) -> String {
    s.get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn chart(series: &[Value]) -> String {
    let drawn: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .take(MAX_SERIES)
        .map(|s| (label_text(s), points(s)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if drawn.is_empty() {
        return "<p class=\"muted\" id=\"query-empty\">The query returned no samples.</p>"
            .to_owned();
    }
    let all = drawn.iter().flat_map(|(_, p)| p.iter());
    let (mut t0, mut t1, mut v0, mut v1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(t, v) in all {
        (t0, t1, v0, v1) = (t0.min(t), t1.max(t), v0.min(v), v1.max(v));
    }
    let (tw, vh) = ((t1 - t0).max(1e-9), (v1 - v0).max(1e-9));
    let mut out = format!(
        "<svg class=\"query-chart\" id=\"query-chart\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"range query chart\">"
    );
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    ];
    let mut legend = String::from("<ul class=\"small query-legend\">");
    for (i, (label, ps)) in drawn.iter().enumerate() {
        let path: Vec<String> = ps
            .iter()
            .map(|(t, v)| {
                let x = (t - t0) / tw * (W - 10.0) + 5.0;
                let y = H - 5.0 - (v - v0) / vh * (H - 10.0);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let colour = colours[i % colours.len()];
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"><title>{}</title></polyline>",
            path.join(" "),
            esc(label)
        );
        let _ = write!(
            legend,
            "<li><span class=\"legend-{i}\">&#9632;</span> {}</li>",
            esc(label)
        );
    }
    out.push_str("</svg>");
    legend.push_str("</ul>");
    let _ = write!(
        out,
        "<p class=\"small muted\">min {} · max {}</p>{legend}",
        esc(&v0.to_string()),
        esc(&v1.to_string())
    );
    if series.len() > MAX_SERIES {
        let _ = write!(
            out,
            "<p class=\"small muted\">{} more series not drawn.</p>",
            series.len() - MAX_SERIES
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn tables_and_charts_escape_everything() {
        let blob = r#"{"datasource":"db","language":"sql","result":{"kind":"table","columns":["<b>"],"rows":[["<script>x</script>"],[null]],"truncated":true}}"#;
        let html = render(blob).unwrap();
        assert!(html.contains("<th>&lt;b&gt;</th>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("query-truncated"));
        let blob = r#"{"datasource":"p","language":"promql","result":{"kind":"series","series":[{"labels":{"a":"\"><svg onload=x>"},"points":[[1,"1"],[2,"3"],[3,"NaN"]]}],"truncated":false}}"#;
        let html = render(blob).unwrap();
        assert!(html.contains("<polyline"), "{html}");
        assert!(html.contains("points=\"5.0,155.0 595.0,5.0\""), "{html}");
        assert!(!html.contains("<svg onload"), "{html}");
        assert!(render("plain command output").is_none());
    }
}
