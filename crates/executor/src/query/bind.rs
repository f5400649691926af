//! Binding values into query text as data, never as code. PromQL and LogQL: a value
//! lands only inside a quoted string, escaped for it (and for the regular expression, after
//! `=~`, `!~` or `|~`); a placeholder outside a string is refused. SQL: every placeholder
//! becomes a bound parameter (`$n` on PostgreSQL, `?` on MySQL); one inside a larger string
//! literal or an identifier is refused.

use std::collections::BTreeMap;

use serde::Serialize;

use super::DatasourceKind;

/// A query ready to run: its text with values escaped in (PromQL, LogQL) or parameter
/// markers (SQL), and the SQL parameters in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundQuery {
    /// What it runs on.
    pub kind: DatasourceKind,
    /// The text sent to the datasource.
    pub text: String,
    /// SQL parameters, in marker order (empty for PromQL and LogQL).
    pub params: Vec<String>,
    /// The placeholder each parameter came from, for errors (not kept in evidence).
    #[serde(skip)]
    pub names: Vec<String>,
}

/// Why a query could not be bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindQueryError {
    /// Placeholders without a value.
    #[error("no value for {}", .0.join(", "))]
    Missing(Vec<String>),
    /// A placeholder where a value would be read as code.
    #[error("placeholder {name} {why}: a value is data, never query text")]
    Misplaced {
        /// The placeholder.
        name: String,
        /// Where it sits.
        why: &'static str,
    },
}

/// One placeholder at `at`: its name and length, if one starts there (`<name>`, `${NAME}`).
fn placeholder_at(text: &str, at: usize) -> Option<(&str, usize)> {
    let rest = text.get(at..)?;
    let (open, close) = if rest.starts_with("${") {
        (2, '}')
    } else if rest.starts_with('<') {
        (1, '>')
    } else {
        return None;
    };
    let body = rest.get(open..)?;
    let len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(body.len());
    let name = body.get(..len)?;
    let ok = (1..=64).contains(&len)
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && body[len..].starts_with(close);
    ok.then_some((name, open + len + 1))
}

/// Binds `values` into `text` for a datasource of `kind`.
pub fn bind_query(
    kind: DatasourceKind,
    text: &str,
    values: &BTreeMap<String, String>,
) -> Result<BoundQuery, BindQueryError> {
    let mut missing = Vec::new();
    let mut lookup = |name: &str| -> String {
        match values.get(name) {
            Some(v) => v.clone(),
            None => {
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_owned());
                }
                String::new()
            }
        }
    };
    let (text, named) = match kind {
        DatasourceKind::Prometheus | DatasourceKind::Loki => {
            (bind_promql(text, &mut lookup)?, Vec::new())
        }
        DatasourceKind::Postgres | DatasourceKind::Mysql => bind_sql(kind, text, &mut lookup)?,
    };
    if !missing.is_empty() {
        return Err(BindQueryError::Missing(missing));
    }
    let (names, params) = named.into_iter().unzip();
    Ok(BoundQuery {
        kind,
        text,
        params,
        names,
    })
}

/// PromQL and LogQL: values only inside `"..."`, `'...'` or (without a backtick) `` `...` ``.
fn bind_promql(
    text: &str,
    lookup: &mut dyn FnMut(&str) -> String,
) -> Result<String, BindQueryError> {
    let mut out = String::with_capacity(text.len());
    // The open string's quote and whether it is a regular expression.
    let mut open: Option<(char, bool)> = None;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if let Some((name, len)) = placeholder_at(text, i) {
            let misplaced = |why| BindQueryError::Misplaced {
                name: name.to_owned(),
                why,
            };
            let value = match open {
                None => return Err(misplaced("is outside a quoted string")),
                Some((q, regex)) => {
                    let v = lookup(name);
                    let v = if regex { regex_escape(&v) } else { v };
                    if q == '`' {
                        if v.contains('`') {
                            return Err(misplaced(
                                "is in a raw string and its value has a backtick",
                            ));
                        }
                        v
                    } else {
                        string_escape(&v, q)
                    }
                }
            };
            out.push_str(&value);
            i += len;
            continue;
        }
        match open {
            None if c == '#' => {
                // A comment runs to the end of the line; nothing in it is bound.
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                out.push_str(&text[i..end]);
                i = end;
                continue;
            }
            None if matches!(c, '"' | '\'' | '`') => {
                let before = text[..i].trim_end();
                let regex = ["=~", "!~", "|~"].iter().any(|op| before.ends_with(op));
                open = Some((c, regex));
            }
            Some((q, _)) if c == '\\' && q != '`' => {
                // An escape inside a string: copy it and the escaped char together.
                out.push(c);
                i += 1;
                if let Some(n) = text[i..].chars().next() {
                    out.push(n);
                    i += n.len_utf8();
                }
                continue;
            }
            Some((q, _)) if c == q => open = None,
            _ => {}
        }
        out.push(c);
        i += c.len_utf8();
    }
    Ok(out)
}

/// Escapes a value for a PromQL/LogQL string quoted with `q` (Go's unquoting rules).
fn string_escape(v: &str, q: char) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Escapes RE2 metacharacters, so a value matches itself only.
fn regex_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// SQL: each placeholder outside strings and identifiers, or filling a whole `'...'`
/// literal, becomes a parameter. Comments are copied unbound. The parameters come back
/// as (placeholder, value) pairs.
fn bind_sql(
    kind: DatasourceKind,
    text: &str,
    lookup: &mut dyn FnMut(&str) -> String,
) -> Result<(String, Vec<(String, String)>), BindQueryError> {
    let mut out = String::with_capacity(text.len());
    let mut params: Vec<(String, String)> = Vec::new();
    let mut numbered: BTreeMap<String, usize> = BTreeMap::new();
    let mut marker = |name: &str, params: &mut Vec<(String, String)>| -> String {
        if kind == DatasourceKind::Mysql {
            params.push((name.to_owned(), lookup(name)));
            return "?".to_owned();
        }
        let n = *numbered.entry(name.to_owned()).or_insert_with(|| {
            params.push((name.to_owned(), lookup(name)));
            params.len()
        });
        format!("${n}")
    };
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let rest = &text[i..];
        if let Some((name, len)) = placeholder_at(text, i) {
            out.push_str(&marker(name, &mut params));
            i += len;
            continue;
        }
        let end = if rest.starts_with("--") || (c == '#' && kind == DatasourceKind::Mysql) {
            rest.find('\n').map_or(text.len(), |n| i + n)
        } else if rest.starts_with("/*") {
            rest.find("*/").map_or(text.len(), |n| i + n + 2)
        } else if matches!(c, '\'' | '"' | '`') {
            let close = quoted_end(rest, c).map_or(text.len(), |n| i + n);
            let inner = &text[i + 1..close.saturating_sub(1).max(i + 1)];
            if c == '\''
                && let Some((name, len)) = placeholder_at(inner, 0)
                && len == inner.len()
            {
                out.push_str(&marker(name, &mut params));
                i = close;
                continue;
            }
            if let Some(name) = (0..inner.len()).find_map(|j| placeholder_at(inner, j)) {
                return Err(BindQueryError::Misplaced {
                    name: name.0.to_owned(),
                    why: if c == '\'' {
                        "is part of a longer string literal (write the whole value as '<name>' or build it in SQL, e.g. '%' || <name> || '%')"
                    } else {
                        "is in a quoted identifier"
                    },
                });
            }
            close
        } else {
            i + c.len_utf8()
        };
        out.push_str(&text[i..end]);
        i = end;
    }
    Ok((out, params))
}

/// The end (exclusive, in bytes) of a quoted token starting at byte 0 with `q`; a doubled
/// quote is one quote inside it (and a backslash escapes in MySQL strings, which only
/// makes the token longer, never shorter than the server reads it).
fn quoted_end(s: &str, q: char) -> Option<usize> {
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((j, c)) = chars.next() {
        if c == '\\' && q != '`' {
            chars.next();
        } else if c == q {
            if chars.peek().map(|(_, n)| *n) == Some(q) {
                chars.next();
            } else {
                return Some(j + c.len_utf8());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The text outside string literals: what decides a PromQL query's structure.
    fn structure(q: &str) -> String {
        let mut out = String::new();
        let mut open: Option<char> = None;
        let mut chars = q.chars();
        while let Some(c) = chars.next() {
            match open {
                Some(_) if c == '\\' => {
                    chars.next();
                }
                Some(o) if c == o => {
                    open = None;
                    out.push(c);
                }
                Some(_) => {}
                None => {
                    if matches!(c, '"' | '\'' | '`') {
                        open = Some(c);
                    }
                    out.push(c);
                }
            }
        }
        out
    }

    #[test]
    fn hostile_label_values_cannot_change_promql_structure() {
        let q = r#"rate(http_requests_total{instance="<instance>", path=~"<path>"}[5m])"#;
        let template = bind_query(
            DatasourceKind::Prometheus,
            q,
            &vals(&[("instance", "a"), ("path", "b")]),
        )
        .unwrap();
        for hostile in [
            r#"x"} or vector(1) #"#,
            r#"\"} or vector(1) or {a=\""#,
            "x\"}\nor vector(1)",
            r#"'`${a}<b>"#,
        ] {
            let b = bind_query(
                DatasourceKind::Prometheus,
                q,
                &vals(&[("instance", hostile), ("path", hostile)]),
            )
            .unwrap();
            assert_eq!(
                structure(&b.text),
                structure(&template.text),
                "{hostile}: {}",
                b.text
            );
        }
        let b = bind_query(
            DatasourceKind::Loki,
            q,
            &vals(&[("instance", r#"a"b\c"#), ("path", ".*")]),
        )
        .unwrap();
        assert_eq!(
            b.text,
            r#"rate(http_requests_total{instance="a\"b\\c", path=~"\\.\\*"}[5m])"#
        );
    }

    #[test]
    fn promql_placeholders_outside_strings_are_refused() {
        let e = bind_query(
            DatasourceKind::Prometheus,
            "up > <threshold>",
            &vals(&[("threshold", "1")]),
        )
        .unwrap_err();
        assert!(matches!(e, BindQueryError::Misplaced { ref name, .. } if name == "threshold"));
        // A comment is not bound, and `<` comparisons are not placeholders.
        let b = bind_query(DatasourceKind::Prometheus, "up < 1 # <x>\n", &vals(&[])).unwrap();
        assert_eq!(b.text, "up < 1 # <x>\n");
        let e = bind_query(DatasourceKind::Loki, r#"{app="${APP}"}"#, &vals(&[])).unwrap_err();
        assert_eq!(e, BindQueryError::Missing(vec!["APP".into()]));
    }

    #[test]
    fn sql_placeholders_become_parameters() {
        let q = "SELECT * FROM t WHERE a = '<a>' AND b = <b> AND c = <a> -- <zz>\n";
        let values = vals(&[("a", "x'; DROP TABLE t; --"), ("b", "2")]);
        let pg = bind_query(DatasourceKind::Postgres, q, &values).unwrap();
        assert_eq!(
            pg.text,
            "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $1 -- <zz>\n"
        );
        assert_eq!(pg.params, ["x'; DROP TABLE t; --", "2"]);
        assert_eq!(pg.names, ["a", "b"]);
        let kept = serde_json::to_value(&pg).unwrap();
        assert!(kept.get("names").is_none(), "{kept}");
        let my = bind_query(DatasourceKind::Mysql, q, &values).unwrap();
        assert_eq!(
            my.text,
            "SELECT * FROM t WHERE a = ? AND b = ? AND c = ? -- <zz>\n"
        );
        assert_eq!(my.params.len(), 3);
        assert_eq!(my.names, ["a", "b", "a"]);
        for bad in [
            "SELECT 'a<b>c'",
            "SELECT \"<b>\" FROM t",
            "SELECT 'it''s <b>'",
        ] {
            assert!(
                matches!(
                    bind_query(DatasourceKind::Postgres, bad, &values),
                    Err(BindQueryError::Misplaced { .. })
                ),
                "{bad}"
            );
        }
        let plain = bind_query(DatasourceKind::Postgres, "SELECT 'a<b' < 'c>'", &values).unwrap();
        assert!(plain.params.is_empty());
    }
}
