//! `schema.graphql` is generated from the code; this test fails when it drifts.
//! Regenerate with `UPDATE_SCHEMA=1 cargo test --test api schema`.

use std::path::PathBuf;

#[test]
fn schema_graphql_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let sdl = leadgraph::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).expect("write schema.graphql");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == sdl,
        "schema.graphql is out of date: run `UPDATE_SCHEMA=1 cargo test --test api schema` and commit it"
    );
}
