//! GraphQL object, input and enum types. Objects wrap entity models
//! (`Lead(lead::Model)`); entities never derive GraphQL traits.

pub mod api_key;
pub mod audit;
pub mod batch;
pub mod dedupe;
pub mod enums;
pub mod import;
pub mod inputs;
pub mod lead;
pub mod lead_one_pass;
pub mod node;
pub mod rate_limit;
pub mod team;
pub mod transition;
pub mod user;
pub mod viewer;
pub mod webhook;

pub use api_key::ApiKey;
pub use lead::Lead;
pub use node::Node;
pub use team::Team;
pub use transition::LeadTransition;
pub use user::User;
pub use viewer::Viewer;
