//! One-time setup (migrations, the first-start bootstrap) is serialised
//! across the instances of a deployment, which may all start at once on a
//! new database: without it, each runs `CREATE TABLE` and all but one fail.
//!
//! - PostgreSQL: a session advisory lock, taken on a connection of its own
//!   (so the migrator's pool is free to work) and released when that
//!   connection closes, also if the process dies.
//! - SQLite: an exclusive lock on a file next to the database
//!   (`<file>.setup-lock`), released when the file is closed, also if the
//!   process dies. In-memory databases are private to one process: no lock.

use std::{fs::File, path::PathBuf};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// The advisory lock key: "leadgrph" in ASCII.
const PG_LOCK_KEY: i64 = 0x6c65_6164_6772_7068;

/// Held while one instance sets the database up; [`SetupLock::release`] it.
pub struct SetupLock {
    held: Held,
}

enum Held {
    Postgres(DatabaseConnection),
    File(File),
    Nothing,
}

impl SetupLock {
    /// Waits until no other instance is setting up the database at `url`.
    pub async fn acquire(url: &str) -> anyhow::Result<Self> {
        let held = if url.starts_with("postgres") {
            let conn = crate::startup::connect_with(url, 1).await?;
            conn.execute_unprepared(&format!("SELECT pg_advisory_lock({PG_LOCK_KEY})"))
                .await
                .context("taking the setup lock")?;
            Held::Postgres(conn)
        } else if let Some(path) = sqlite_file(url) {
            let path = lock_path(path);
            let file = tokio::task::spawn_blocking(move || -> anyhow::Result<File> {
                let file = File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                file.lock()
                    .with_context(|| format!("locking {}", path.display()))?;
                Ok(file)
            })
            .await
            .context("waiting for the setup lock")??;
            Held::File(file)
        } else {
            Held::Nothing
        };
        Ok(Self { held })
    }

    /// Lets the next instance set up (it finds the work done).
    pub async fn release(self) -> anyhow::Result<()> {
        match self.held {
            Held::Postgres(conn) => {
                conn.execute_unprepared(&format!("SELECT pg_advisory_unlock({PG_LOCK_KEY})"))
                    .await
                    .context("releasing the setup lock")?;
                conn.close().await.context("closing the setup connection")?;
            }
            Held::File(file) => file.unlock().context("releasing the setup lock file")?,
            Held::Nothing => {}
        }
        Ok(())
    }
}

/// The database file of a SQLite URL (`sqlite://path?…`, `sqlite:path`),
/// or `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    (!path.is_empty() && path != ":memory:" && !url.contains("mode=memory")).then_some(path)
}

fn lock_path(db_file: &str) -> PathBuf {
    PathBuf::from(format!("{db_file}.setup-lock"))
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[test]
    fn the_sqlite_file_is_read_off_the_url() {
        assert_eq!(
            sqlite_file("sqlite://leadgraph.db?mode=rwc"),
            Some("leadgraph.db")
        );
        assert_eq!(sqlite_file("sqlite:///tmp/x/t.db"), Some("/tmp/x/t.db"));
        assert_eq!(sqlite_file("sqlite:data.db"), Some("data.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://file.db?mode=memory"), None);
        assert_eq!(sqlite_file("postgres://x@h/db"), None);
    }
}
