//! `docs/openapi.yaml` and the router describe the same routes: a route served but not
//! documented, or documented but not served, fails here.

use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[test]
fn openapi_document_matches_the_router() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("docs/openapi.yaml exists");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    let mut documented = BTreeSet::new();
    let paths = doc["paths"].as_mapping().expect("a paths map");
    for (p, item) in paths {
        let p = p.as_str().unwrap();
        for m in METHODS {
            if item.get(m).is_some() {
                documented.insert((m.to_owned(), p.to_owned()));
            }
        }
    }
    // axum's catch-all `{*path}` is OpenAPI's `{path}`.
    let served: BTreeSet<(String, String)> = sitrep_server::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.replace("{*", "{")))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in docs/openapi.yaml: {undocumented:?}\nin docs/openapi.yaml but not served: {unserved:?}"
    );
    // Every operation documents its responses.
    for (p, item) in paths {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                assert!(
                    op.get("responses")
                        .and_then(|r| r.as_mapping())
                        .is_some_and(|r| !r.is_empty()),
                    "{m} {p:?} has no responses"
                );
            }
        }
    }
}
