//! Operator authentication for the HTTP API: badge + PIN (argon2id PHC strings from the
//! config's `[[operators]]` or the central's `operator` feed items), sessions, lockout,
//! CSRF and origin checks.
//!
//! - **Sessions** survive a restart. A session is a random 256-bit token from the OS RNG,
//!   given to the client once (cookie `returnsd_session`, `HttpOnly; SameSite=Strict;
//!   Path=/`, `Secure` with `http.secure_cookie`, which is always on with `http.tls`, and
//!   in the login answer for `Authorization: Bearer`); the station keeps only its SHA-256
//!   (and the SHA-256 of the session's CSRF token). A session unused for
//!   `http.session_idle_*` is gone — also when the daemon was down meanwhile.
//! - **Persistence**: the sessions and wrong-PIN records are held here in memory (every
//!   request is checked against memory, no database read) and written through to the
//!   station database (`store::api_state`: `api_sessions`, `api_lockouts`), from which
//!   [`Auth::restore`] loads them at start. The writes go **through the engine**, the
//!   database's single writer, as [`AuthWrite`] inputs committed like any other batch
//!   (`synchronous=FULL`) — not through a second writer connection that would contend
//!   with the engine's transactions for the write lock. Login and logout wait for their
//!   write (a logout that could not be stored is refused, so a token never comes back
//!   after a restart); a session's `last_seen` is written at most once a minute (more
//!   often only when the idle timeout is under two minutes), fire and forget, so after
//!   a restart a session may end up to that much earlier than it would have. The rows are
//!   not journal events: they never sync to the central. Expired rows are deleted by the
//!   engine's housekeeping (the maintenance task's prune).
//! - **CSRF**: a mutating request authenticated by the cookie must carry `X-CSRF-Token`
//!   equal to the session's CSRF token (given at login); bearer requests need none (a
//!   browser never adds that header by itself). Any mutating request whose `Origin` is
//!   not this host, or whose `Sec-Fetch-Site` is `cross-site`, is refused.
//! - **Lockout**: `http.lockout_after` wrong PINs for one badge within
//!   `http.lockout_window_min` lock it for `http.lockout_min`; the lockout is logged at
//!   WARN and journaled as `operator.locked_out` (badge only — never the PIN). The count
//!   and the lock are stored, so a restart neither resets one nor lifts the other.
//!
//! Times are wall-clock Unix milliseconds, so that they keep their meaning across a
//! restart.
//!
//! Nothing here implements `Debug` over a token, a PIN or a hash.
//!
//! Files: `session.rs` (sessions and wrong-PIN records), `pin.rs` (hashing and checking
//! PINs), `guard.rs` (cookie, origin, constant-time comparison), `operator.rs` (who may
//! log in).

mod guard;
mod operator;
mod pin;
mod session;

pub use guard::{COOKIE, check_origin, cookie, ct_eq, is_mutating, set_cookie};
pub use operator::{OperatorRecord, lookup_operator};
pub use pin::{MIN_PIN, PIN_CHECKS, PinError, hash_pin, verify_pin};
pub use session::{Auth, Caller, MAX_SESSIONS, NewSession, now_ms};
