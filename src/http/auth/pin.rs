//! Operators' PINs: argon2id PHC strings made by `returnsd pin-hash` and checked at login.
//! A check costs ~19 MiB and tens of ms of one core, so the login runs at most
//! [`PIN_CHECKS`] at once, on blocking threads; an unknown badge is checked against a
//! dummy hash so that it takes as long as a known one.
//!
//! Nothing here implements `Debug` over a PIN or a hash.

use std::sync::OnceLock;

/// Shortest PIN [`hash_pin`] accepts.
pub const MIN_PIN: usize = 4;
/// Longest PIN accepted (anything longer is wrong without hashing it).
const MAX_PIN: usize = 64;
/// PIN checks running at once: each argon2id verification takes ~19 MiB and tens of ms
/// of one core, so a burst of logins must not take the floor PC's memory or CPUs.
pub const PIN_CHECKS: usize = 2;

/// Why a PIN cannot be hashed; the text is the operator's (`returnsd pin-hash`).
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is {MIN_PIN} to {MAX_PIN} characters without spaces (got {0})")]
    Shape(usize),
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
}

/// The CLI's commands answer `Result<_, String>`.
impl From<PinError> for String {
    fn from(e: PinError) -> String {
        e.to_string()
    }
}

/// A hash nobody's PIN matches, verified for unknown badges so that they take as long as
/// known ones.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(b"returnsd-no-such-operator")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The argon2id PHC string of a new PIN (`returnsd pin-hash`), with a fresh random salt
/// and argon2's default cost (19 MiB, 2 passes). A PIN is 4 to 64 visible characters
/// (digits on a handheld keypad, typically).
pub fn hash_pin(pin: &str) -> Result<String, PinError> {
    use argon2::password_hash::PasswordHasher;
    let n = pin.chars().count();
    if !(MIN_PIN..=MAX_PIN).contains(&n) || pin.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(PinError::Shape(n));
    }
    argon2::Argon2::default()
        .hash_password(pin.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PinError::Hash(e.to_string()))
}

/// Check a PIN against a PHC string (argon2id; the hash's own parameters). CPU-heavy:
/// call it on a blocking thread.
pub fn verify_pin(pin: &str, hash: Option<&str>) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let ok = argon2::Argon2::default()
        .verify_password(pin.as_bytes(), &parsed)
        .is_ok();
    ok && real && pin.len() <= MAX_PIN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `returnsd pin-hash`: an argon2id hash the login verifies, salted afresh each time;
    /// short, long or spaced PINs are refused.
    #[test]
    fn pin_hashes_verify() {
        let h = hash_pin("4711").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_pin("4711", Some(&h)));
        assert!(!verify_pin("4712", Some(&h)));
        assert_ne!(h, hash_pin("4711").unwrap());
        for bad in ["", "123", "12 34", &"9".repeat(65)] {
            assert!(hash_pin(bad).is_err(), "{bad:?}");
        }
    }

    /// An argon2id PHC string verifies its PIN and nothing else; no hash never verifies.
    #[test]
    fn pins_verify_against_phc_strings() {
        use argon2::password_hash::PasswordHasher;
        let params = argon2::Params::new(1024, 1, 1, None).unwrap();
        let a2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let h = a2.hash_password(b"2468").unwrap().to_string();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_pin("2468", Some(&h)));
        assert!(!verify_pin("2469", Some(&h)));
        assert!(!verify_pin("2468", Some("not a hash")));
        assert!(!verify_pin("2468", None));
    }
}
