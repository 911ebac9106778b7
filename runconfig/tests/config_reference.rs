//! docs/config.md, the key reference, against the schema: every key the
//! schema has is documented there, and every key documented is one the
//! schema has.

use std::collections::BTreeSet;

/// The keys docs/config.md documents: each backquoted name in the first
/// cell of a table row, and each backquoted section heading (`## \`train\``).
fn documented(page: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for line in page.lines() {
        let cell = if let Some(heading) = line.strip_prefix("## ") {
            heading
        } else if let Some(row) = line.strip_prefix("| ") {
            row.split(" | ").next().unwrap_or_default()
        } else {
            continue;
        };
        keys.extend(
            cell.split('`')
                .skip(1)
                .step_by(2)
                .filter(|k| !k.is_empty())
                .map(str::to_string),
        );
    }
    keys
}

#[test]
fn docs_config_md_documents_every_schema_key_and_no_other() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/config.md");
    let page = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let documented = documented(&page);
    let schema: BTreeSet<String> = runconfig::schema_keys().into_iter().collect();
    assert!(schema.len() > 50, "the schema lists its keys: {schema:?}");
    let missing: Vec<&String> = schema.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&schema).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/config.md is out of step with the schema:\n  \
         keys of the schema it does not document: {missing:?}\n  \
         keys it documents that the schema does not have: {stale:?}"
    );
}
