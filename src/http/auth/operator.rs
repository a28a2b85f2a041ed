//! Who may log in: an operator of the config's `[[operators]]` (first), else of the
//! central's `operator` feed items (`store::api_reads::feed_operator`).

use crate::config::LiveOperators;
use crate::domain::kind::Role;
use crate::store::{Reader, StoreError, api_reads};

/// An operator as the login needs it.
pub struct OperatorRecord {
    pub badge: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// The argon2id PHC string; None: this operator cannot log in over HTTP.
    pub pin_hash: Option<String>,
}

/// The operator of `badge` from the config, else from the feed (None: no such operator,
/// or one without a role).
pub fn lookup_operator(
    r: &Reader,
    operators: &LiveOperators,
    badge: &str,
) -> Result<Option<OperatorRecord>, StoreError> {
    if let Some(o) = operators.find(badge) {
        return Ok(Some(OperatorRecord {
            badge: o.badge.clone(),
            name: o.name.clone(),
            roles: o.roles.clone(),
            pin_hash: o.pin_hash.clone(),
        }));
    }
    Ok(api_reads::feed_operator(r, badge)?.map(|o| OperatorRecord {
        badge: badge.to_string(),
        name: o.name,
        roles: o.roles,
        pin_hash: o.pin_hash,
    }))
}
