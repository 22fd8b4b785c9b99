//! Fixtures of the unit tests that need a database.

use entity::Environment;
use sea_orm::DatabaseConnection;

use crate::domain::tenants::{CreatedTenant, TenantSpec, create_tenant};

/// A migrated SQLite file with the tenant `acme` (market `US`, a live key).
/// The temp dir holds the file and must outlive the test.
pub(crate) async fn acme_db() -> (tempfile::TempDir, DatabaseConnection, CreatedTenant) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let db = crate::startup::migrate(&url).await.expect("migrate");
    let created = create_tenant(
        &db,
        TenantSpec {
            name: "acme".into(),
            plan: "enterprise".into(),
            markets: vec!["US".into()],
            owner_email: "owner@acme.example".into(),
            environments: vec![Environment::Live],
        },
    )
    .await
    .expect("tenant");
    (dir, db, created)
}
