//! `leadgraph tenant create`.

use anyhow::Context;
use entity::Environment;
use serde_json::json;

use crate::{
    config::TenantCreateArgs,
    domain::tenants::{TenantSpec, create_tenant},
    ids::{IdCodec, NodeType},
    startup::migrate,
};

pub async fn create(database_url: &str, args: TenantCreateArgs) -> anyhow::Result<()> {
    let db = migrate(database_url).await?;
    let slug: String = args
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    let owner_email = args.owner_email.unwrap_or_else(|| {
        format!(
            "owner@{}.example",
            if slug.is_empty() { "tenant" } else { &slug }
        )
    });
    let created = create_tenant(
        &db,
        TenantSpec {
            name: args.name,
            plan: args.plan,
            markets: args.markets,
            owner_email,
            environments: vec![Environment::Live, Environment::Sandbox],
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("creating the tenant")?;
    let codec = IdCodec::new(std::env::var("LEADGRAPH_ID_ALPHABET").ok().as_deref())
        .context("LEADGRAPH_ID_ALPHABET is invalid")?;
    let key = |env: Environment| {
        created
            .keys
            .iter()
            .find(|(e, _)| *e == env)
            .map(|(_, k)| k.expose().to_owned())
            .unwrap_or_default()
    };
    let out = json!({
        "tenant": { "id": codec.encode(NodeType::Tenant, created.tenant.id), "name": created.tenant.name },
        "owner": { "id": codec.encode(NodeType::User, created.owner.id) },
        "keys": { "live": key(Environment::Live), "sandbox": key(Environment::Sandbox) },
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).context("formatting")?
        );
    }
    Ok(())
}
