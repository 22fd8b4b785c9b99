//! The `Node` interface: anything with a global id.

use async_graphql::{ID, Interface};

use super::{
    ApiKey, Lead, LeadTransition, Team, User,
    audit::AuditEvent,
    dedupe::DedupeRun,
    import::ImportJob,
    webhook::{WebhookDelivery, WebhookEndpoint},
};

/// An object with a globally unique, opaque id (`node(id:)` resolves it).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Lead(Lead),
    User(User),
    Team(Team),
    ApiKey(ApiKey),
    LeadTransition(LeadTransition),
    AuditEvent(AuditEvent),
    WebhookEndpoint(WebhookEndpoint),
    WebhookDelivery(WebhookDelivery),
    DedupeRun(DedupeRun),
    ImportJob(ImportJob),
}
