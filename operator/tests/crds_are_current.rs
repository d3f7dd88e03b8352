//! The checked-in CRD YAML (`crds/`, `charts/upline/crds/`) is what `upline crdgen` writes from
//! today's types: a changed type without regenerated files fails here.

use std::path::Path;

#[test]
fn checked_in_crds_match_the_rust_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let stale = operator::crdgen::stale(&operator::crdgen::default_dirs(&root));
    assert!(
        stale.is_empty(),
        "stale CRD files (run `upline crdgen` at the repository's root and commit them): {stale:?}"
    );
}

#[test]
fn unsigned_formats_the_api_server_ignores_are_left_out() {
    for (name, text) in operator::crdgen::rendered() {
        assert!(!text.contains("format: uint"), "{name} keeps a uint format");
    }
}
