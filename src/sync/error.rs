//! The errors at the sync seams: building the client, one step of a push round, one step
//! of a feed round. Their `Display` is the text operators read in `sync status`
//! (`last_error`), so it is worded for them and pinned by the integration tests.
//!
//! The push and feed variants carry the failing library's words as text, not its error
//! value: the machines match on the variant (what kind of failure, so what to do), and a
//! test can build every one without a network.

use std::path::PathBuf;

/// Why the HTTP client for the central cannot be built; the workers then stay `rejected`
/// with this text until the config is fixed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("sync.ca_file {}: {source}", path.display())]
    CaFileUnreadable {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("sync.ca_file {}: {source}", path.display())]
    CaCertRefused {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("sync.ca_file {}: no certificate in it", path.display())]
    CaFileEmpty { path: PathBuf },
    #[error("TLS setup: {0}")]
    Tls(rustls::Error),
    #[error("HTTP client: {0}")]
    Http(reqwest::Error),
}

/// A step of a push round that ended without an answer from the central.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The database could not be read; retried after a pause, no alarm.
    #[error("cannot read the journal: {0}")]
    Journal(String),
    /// The station token (file) cannot be read: an operator must fix it.
    #[error("{0}")]
    Token(String),
    /// A photo an event references cannot be read, or is damaged, in the photo store.
    #[error("photo {sha256} referenced by seq {seq}: {error}")]
    PhotoUnreadable {
        sha256: String,
        seq: i64,
        error: String,
        /// It no longer hashes to its name (else: an I/O error).
        damaged: bool,
    },
    #[error("photo {sha256} referenced by seq {seq} is missing from the photo store")]
    PhotoMissing { sha256: String, seq: i64 },
    /// No answer: connection, TLS, timeout (the error with all its causes).
    #[error("{0}")]
    Transport(String),
    /// The answer's status came, its body did not.
    #[error("reading the answer: {0}")]
    AnswerBody(String),
    /// The engine did not record the central's acknowledgement.
    #[error("{0}")]
    Ack(String),
}

/// A step of a feed round that did not end in an applied page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The durable cursor could not be read; retried after a pause, no alarm.
    #[error("{0}")]
    Cursor(String),
    #[error("{0}")]
    Token(String),
    #[error("feed URL: {0}")]
    Url(String),
    #[error("feed request: {0}")]
    Request(String),
    #[error("feed answer: {0}")]
    AnswerBody(String),
    /// Any status but 200, with the start of the body.
    #[error("HTTP {code}: {body}")]
    Status { code: u16, body: String },
    #[error("feed page is not JSON: {0}")]
    NotJson(String),
    #[error("feed page has no items array")]
    NoItems,
    /// The engine did not apply the page (nothing of it was stored).
    #[error("{0}")]
    Apply(String),
}

impl FeedError {
    /// A `4xx`: the central refuses the station's request; retrying soon will not help.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            FeedError::Status {
                code: 400..=499,
                ..
            }
        )
    }
}

/// The start of an answer's body, for an alarm text.
pub fn snippet(s: &str) -> String {
    s.chars().take(300).collect()
}
