//! `[[operators]]`: people known to this station before the central's feed says more —
//! the bootstrap supervisor, lab operators.

use std::fmt;
use std::sync::{Arc, RwLock};

use super::ctx::Ctx;
use super::raw::RawOperator;
use crate::domain::ids::Badge;
use crate::domain::kind::Role;

/// An operator from the local config.
#[derive(Clone)]
pub struct LocalOperator {
    /// The badge scanned at the bench and typed at login: who did what in every event.
    pub badge: String,
    /// Shown on pages and the kiosk so people see who is logged in.
    pub name: String,
    /// What this person may do (keeper, inspector, supervisor): the domain refuses the rest.
    pub roles: Vec<Role>,
    /// argon2id PHC string of the PIN for the handheld and supervisor pages; without one the
    /// badge works at the bench but cannot log in over HTTP. A secret: never in `Debug`.
    pub pin_hash: Option<String>,
}

impl fmt::Debug for LocalOperator {
    // The PIN hash is a secret: never in Debug output or logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalOperator")
            .field("badge", &self.badge)
            .field("roles", &self.roles)
            .field("pin_hash", &self.pin_hash.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `[[operators]]` as the daemon uses them now: read by the engine (who may do what at the
/// bench) and the API (who may log in), replaced by a reload (`systemctl reload`, SIGHUP).
#[derive(Clone, Debug, Default)]
pub struct LiveOperators(Arc<RwLock<Arc<Vec<LocalOperator>>>>);

impl LiveOperators {
    pub fn new(operators: Vec<LocalOperator>) -> LiveOperators {
        LiveOperators(Arc::new(RwLock::new(Arc::new(operators))))
    }

    /// The operators now.
    pub fn get(&self) -> Arc<Vec<LocalOperator>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replace them; answers the badges whose entry was removed or changed (roles, PIN or
    /// name): their API sessions must end.
    pub fn replace(&self, operators: Vec<LocalOperator>) -> Vec<String> {
        let mut g = self.0.write().unwrap_or_else(|p| p.into_inner());
        let changed = g
            .iter()
            .filter(|old| {
                !operators.iter().any(|new| {
                    new.badge == old.badge
                        && new.roles == old.roles
                        && new.pin_hash == old.pin_hash
                        && new.name == old.name
                })
            })
            .map(|o| o.badge.clone())
            .collect();
        *g = Arc::new(operators);
        changed
    }

    /// The config's operator of `badge`.
    pub fn find(&self, badge: &str) -> Option<LocalOperator> {
        self.get().iter().find(|o| o.badge == badge).cloned()
    }
}

/// Validate `[[operators]]`.
pub fn operators(raw: &[RawOperator], ctx: &mut Ctx) -> Vec<LocalOperator> {
    let mut operators = Vec::new();
    for (i, o) in raw.iter().enumerate() {
        let key = |k: &str| format!("operators[{i}].{k}");
        match &o.badge {
            None => ctx.missing(&key("badge")),
            Some(b) if Badge::parse(b).is_err() => ctx.bad(
                &key("badge"),
                format!("{b:?}: use 1 to 32 of A-Z a-z 0-9 _"),
            ),
            Some(_) => {}
        }
        if o.name.is_none() {
            ctx.missing(&key("name"));
        }
        let mut roles = Vec::new();
        match &o.roles {
            None => ctx.missing(&key("roles")),
            Some(list) => {
                for (j, r) in list.iter().enumerate() {
                    match Role::parse(r) {
                        Some(r) => roles.push(r),
                        None => ctx.bad(
                            &format!("operators[{i}].roles[{j}]"),
                            format!("{r:?}: use keeper, inspector or supervisor"),
                        ),
                    }
                }
                if roles.is_empty() {
                    ctx.bad(&key("roles"), "needs at least one role");
                }
            }
        }
        if let Some(h) = &o.pin_hash
            && !h.starts_with("$argon2id$")
        {
            ctx.bad(
                &key("pin_hash"),
                "must be an argon2id PHC string ($argon2id$...)",
            );
        }
        operators.push(LocalOperator {
            badge: o.badge.clone().unwrap_or_default(),
            name: o.name.clone().unwrap_or_default(),
            roles,
            pin_hash: o.pin_hash.clone(),
        });
    }
    operators
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(badge: &str, roles: &[&str]) -> RawOperator {
        RawOperator {
            badge: Some(badge.into()),
            name: Some("n".into()),
            roles: Some(roles.iter().map(|r| r.to_string()).collect()),
            pin_hash: None,
        }
    }

    /// A good entry becomes an operator with its roles; its PIN hash stays out of Debug.
    #[test]
    fn good_operators() {
        let mut ctx = Ctx::test();
        let mut raw = op("001", &["supervisor", "keeper"]);
        raw.pin_hash = Some("$argon2id$v=19$secret".into());
        let ops = operators(&[raw], &mut ctx);
        assert!(ctx.reported().is_empty());
        assert_eq!(ops[0].badge, "001");
        assert_eq!(ops[0].roles, [Role::Supervisor, Role::Keeper]);
        assert!(!format!("{:?}", ops[0]).contains("secret"));
    }

    /// Each bad value or missing key is reported with its key.
    #[test]
    fn bad_operators() {
        let mut ctx = Ctx::test();
        let mut hashed = op("b 1", &["boss"]);
        hashed.pin_hash = Some("1234".into());
        operators(&[hashed, op("2", &[]), RawOperator::default()], &mut ctx);
        assert_eq!(
            ctx.reported(),
            [
                "operators[0].badge: \"b 1\": use 1 to 32 of A-Z a-z 0-9 _",
                "operators[0].roles[0]: \"boss\": use keeper, inspector or supervisor",
                "operators[0].roles: needs at least one role",
                "operators[0].pin_hash: must be an argon2id PHC string ($argon2id$...)",
                "operators[1].roles: needs at least one role",
                "operators[2].badge: missing field `badge`",
                "operators[2].name: missing field `name`",
                "operators[2].roles: missing field `roles`",
            ]
        );
    }
}
