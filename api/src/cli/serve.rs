//! `leadgraph serve`: migrate, bootstrap an empty database, serve until stopped.

use crate::{
    config::ServeArgs,
    startup::{App, shutdown_signal},
};

pub async fn run(database_url: &str, args: &ServeArgs) -> anyhow::Result<()> {
    let app = App::build(database_url, args).await?;
    if let Some(created) = app.bootstrap().await? {
        // Printed once, on stdout (never logged): the key is not stored.
        for (env, key) in &created.keys {
            println!(
                "Created tenant `{}` with a full-scope {} key (shown once, store it now):\n\n    {}\n",
                created.tenant.name,
                match env {
                    entity::Environment::Live => "live",
                    entity::Environment::Sandbox => "sandbox",
                },
                key.expose()
            );
        }
    }
    tracing::info!(port = app.port(), bind = %args.bind, "serving GraphQL on /graphql");
    app.run_until_stopped(shutdown_signal()).await
}
