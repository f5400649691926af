//! Reading a parameter's declared `type` from front matter, in the shapes authors write
//! it, and saying why a declaration cannot be used (diagnostic `param-type`).

use serde_yaml_ng::{Mapping, Value};

use crate::params::{self, ParamPattern, ParamType};

const TYPES: &str = "hostname, k8s-name, int, duration, enum, pattern, path";

/// The type a parameter's mapping declares, if any. Accepted shapes:
/// `type: hostname`; `type: enum` + `values: [a, b]`; `type: pattern` + `pattern: RE`;
/// `type: path` + `roots: [/var/log]`; the one-key forms `type: {enum: [a, b]}`,
/// `type: {pattern: RE}`, `type: {path: [/var/log]}` (or `{path: {roots: [...]}}`); and
/// `enum: [a, b]` or `pattern: RE` without `type`.
pub(crate) fn declared_type(m: &Mapping) -> Result<Option<ParamType>, String> {
    match m.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => return named(name, m).map(Some),
        Some(Value::Mapping(inner)) => {
            let mut entries = inner.iter();
            return match (entries.next(), entries.next()) {
                (Some((Value::String(name), arg)), None) => one_key(name, arg).map(Some),
                _ => Err(format!(
                    "`type` as a mapping must have exactly one key, the type's name ({TYPES})"
                )),
            };
        }
        Some(_) => return Err(format!("`type` must be one of {TYPES}")),
    }
    match (m.get("enum"), m.get("pattern")) {
        (Some(_), Some(_)) => Err("declares both `enum` and `pattern`: pick one".to_string()),
        (Some(v), None) => enum_values(v).map(Some),
        (None, Some(v)) => pattern(v).map(Some),
        (None, None) => Ok(None),
    }
}

/// `type: NAME` with the type's arguments as sibling keys.
fn named(name: &str, m: &Mapping) -> Result<ParamType, String> {
    match name {
        "hostname" => Ok(ParamType::Hostname),
        "k8s-name" => Ok(ParamType::K8sName),
        "int" => Ok(ParamType::Int),
        "duration" => Ok(ParamType::Duration),
        "enum" => match m.get("values").or_else(|| m.get("enum")) {
            Some(v) => enum_values(v),
            None => Err("`type: enum` needs `values: [a, b, ...]`".to_string()),
        },
        "pattern" => match m.get("pattern") {
            Some(v) => pattern(v),
            None => Err("`type: pattern` needs `pattern: REGEX`".to_string()),
        },
        "path" => match m.get("roots") {
            Some(v) => roots(v),
            None => Err("`type: path` needs `roots: [/dir, ...]`".to_string()),
        },
        other => Err(format!("unknown type `{other}` (known: {TYPES})")),
    }
}

/// `type: {NAME: ARGUMENT}`.
fn one_key(name: &str, arg: &Value) -> Result<ParamType, String> {
    match (name, arg) {
        ("enum", v) => enum_values(v),
        ("pattern", v) => pattern(v),
        ("path", Value::Mapping(m)) => match m.get("roots") {
            Some(v) => roots(v),
            None => Err("`type: {path: ...}` needs `roots: [/dir, ...]`".to_string()),
        },
        ("path", v) => roots(v),
        (other, Value::Null) => named(other, &Mapping::new()),
        (other, _) => Err(format!(
            "`type: {{{other}: ...}}` is not a known form (known types: {TYPES})"
        )),
    }
}

fn enum_values(v: &Value) -> Result<ParamType, String> {
    let values = strings(v).unwrap_or_default();
    if values.is_empty() {
        return Err("`enum` needs a non-empty list of values: `values: [a, b]`".to_string());
    }
    Ok(ParamType::Enum(values))
}

fn pattern(v: &Value) -> Result<ParamType, String> {
    let Value::String(source) = v else {
        return Err("`pattern` must be a regular expression, as a string".to_string());
    };
    ParamPattern::new(source)
        .map(ParamType::Pattern)
        .map_err(|e| format!("`pattern` is not a usable regular expression: {e}"))
}

fn roots(v: &Value) -> Result<ParamType, String> {
    let list = strings(v).unwrap_or_default();
    if list.is_empty() {
        return Err("`type: path` needs `roots: [/dir, ...]`, a non-empty list".to_string());
    }
    for r in &list {
        if !r.starts_with('/') || params::normalised(r).is_err() {
            return Err(format!(
                "root `{r}` is not an absolute, normalised path (no `.`, `..`, `//` or trailing `/`)"
            ));
        }
    }
    Ok(ParamType::Path { roots: list })
}

/// A list of scalars (a single scalar counts as a list of one).
fn strings(v: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match v {
        Value::Sequence(s) => s.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(yaml: &str) -> Result<Option<ParamType>, String> {
        let v: Value = serde_yaml_ng::from_str(yaml).expect("test YAML");
        declared_type(v.as_mapping().expect("a mapping"))
    }

    #[test]
    fn every_shape_declares_its_type() {
        let e = ParamType::Enum(vec!["a".into(), "b".into()]);
        assert_eq!(decl("type: enum\nvalues: [a, b]"), Ok(Some(e.clone())));
        assert_eq!(decl("type: {enum: [a, b]}"), Ok(Some(e.clone())));
        assert_eq!(decl("enum: [a, b]"), Ok(Some(e)));
        let p = ParamType::Pattern(ParamPattern::new("[a-f0-9]+").expect("regex"));
        assert_eq!(
            decl("type: pattern\npattern: '[a-f0-9]+'"),
            Ok(Some(p.clone()))
        );
        assert_eq!(decl("type: {pattern: '[a-f0-9]+'}"), Ok(Some(p.clone())));
        assert_eq!(decl("pattern: '[a-f0-9]+'"), Ok(Some(p)));
        let r = ParamType::Path {
            roots: vec!["/var/log".into(), "/".into()],
        };
        assert_eq!(
            decl("type: path\nroots: [/var/log, /]"),
            Ok(Some(r.clone()))
        );
        assert_eq!(decl("type: {path: [/var/log, /]}"), Ok(Some(r.clone())));
        assert_eq!(decl("type: {path: {roots: [/var/log, /]}}"), Ok(Some(r)));
        assert_eq!(decl("type: k8s-name"), Ok(Some(ParamType::K8sName)));
        assert_eq!(decl("type: {int: }"), Ok(Some(ParamType::Int)));
        assert_eq!(decl("default: x"), Ok(None));
    }

    #[test]
    fn bad_declarations_say_why() {
        for (yaml, says) in [
            ("type: string", "unknown type `string`"),
            ("type: enum", "needs `values"),
            ("type: enum\nvalues: []", "non-empty"),
            (
                "type: pattern\npattern: '(['",
                "not a usable regular expression",
            ),
            ("type: pattern", "needs `pattern"),
            ("type: path", "needs `roots"),
            ("type: path\nroots: [var/log]", "root `var/log`"),
            ("type: path\nroots: [/var/../etc]", "root `/var/../etc`"),
            ("type: path\nroots: [/var/log/]", "root `/var/log/`"),
            ("type: [int]", "`type` must be one of"),
            ("enum: [a]\npattern: b", "both"),
        ] {
            let e = decl(yaml).expect_err(yaml);
            assert!(e.contains(says), "{yaml}: {e}");
        }
    }
}
