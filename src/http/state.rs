//! What every handler of the station's HTTP server shares: the config, the engine, one
//! database reader, the sync status, the device board, the operator API's sessions and
//! limits, and the listener's TLS. Built once by the wiring (`app`), cloned per request.

use std::sync::Arc;

use super::auth::{self, Auth};
use super::error::ReadError;
use super::idem::Idempotency;
use super::status::SharedStatus;
use super::tls::ServerTls;
use crate::board::DeviceBoard;
use crate::config::Config;
use crate::engine::EngineHandle;
use crate::store::{self, Reader, SharedReader, StoreError};

/// Event streams open at once (kiosks and handhelds of one bench; `live`).
pub const MAX_STREAMS: usize = 32;

#[derive(Clone)]
pub struct HttpState {
    pub cfg: Arc<Config>,
    pub engine: EngineHandle,
    /// One reader for every read (opened on first use): reads are short, requests take
    /// turns, and the engine's writer is never held up by them (WAL).
    pub reader: SharedReader,
    /// The sync workers' live status (`GET /sync`, alarms, `/metrics`).
    pub sync: SharedStatus,
    /// Live scanner and printer states.
    pub board: DeviceBoard,
    /// The operator API's sessions, idempotency keys and concurrency cap.
    pub api: Arc<ApiState>,
    /// The listener's TLS (`http.tls`); None = plain HTTP.
    pub tls: Option<ServerTls>,
}

impl HttpState {
    /// Run `f` on the shared reader on a blocking thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ReadError> {
        let reader = self.reader.clone();
        Ok(tokio::task::spawn_blocking(move || reader.with(f)).await??)
    }
}

/// The operator API's shared state: sessions, idempotency keys, the concurrency cap.
pub struct ApiState {
    pub auth: Auth,
    pub idem: Idempotency,
    pub limiter: Arc<tokio::sync::Semaphore>,
    /// Open event streams (`live`).
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Becomes true when the daemon stops (event streams end).
    pub stop: tokio::sync::watch::Receiver<bool>,
}

impl ApiState {
    /// The API state, with the sessions and wrong-PIN records restored from the station
    /// database (the engine has opened and migrated it).
    pub fn new(cfg: &Config, stop: tokio::sync::watch::Receiver<bool>) -> ApiState {
        let restored = Reader::open(&cfg.storage.database)
            .and_then(|r| store::api_reads::auth_records(&r, auth::MAX_SESSIONS));
        let auth = match restored {
            Ok((sessions, lockouts)) => {
                tracing::info!(
                    sessions = sessions.len(),
                    lockouts = lockouts.len(),
                    "API sessions and wrong-PIN records restored"
                );
                Auth::restore(&cfg.http, &sessions, &lockouts)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot restore API sessions; operators log in again");
                Auth::new(&cfg.http)
            }
        };
        ApiState {
            auth,
            idem: Idempotency::default(),
            limiter: Arc::new(tokio::sync::Semaphore::new(cfg.http.max_concurrent)),
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
            stop,
        }
    }
}
