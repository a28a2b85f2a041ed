//! The sync status as the station's HTTP answers show it (`GET /api/v1/sync`, the alarms,
//! the kiosk's alarms, `/metrics`): the sync worker's live status beside the journal's
//! counters, in the JSON `returnsd sync status` prints.
//!
//! The one file of `http` that names `sync`: the live status type belongs below the edges
//! and its JSON with the read models (`views`); when they move there, only the two
//! imports below change.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::sync::SharedStatus;
use crate::sync::status_json;

use crate::store::{Reader, StoreError, sync_counters};

/// The status at `now`: the workers' `status` and the journal's figures read through `r`.
pub fn sync_json(
    r: &Reader,
    status: &SharedStatus,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    Ok(status_json(&sync_counters(r.conn())?, status, now))
}
