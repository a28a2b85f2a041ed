//! The sync status as the station's HTTP answers show it (`GET /api/v1/sync`, the alarms,
//! the kiosk's alarms, `/metrics`): the sync worker's live status beside the journal's
//! counters, in the JSON `returnsd sync status` prints.
//!

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::sync_status::SharedStatus;
use crate::views::sync_status_json as status_json;

use crate::store::{Reader, StoreError, sync_counters};

/// The status at `now`: the workers' `status` and the journal's figures read through `r`.
pub fn sync_json(
    r: &Reader,
    status: &SharedStatus,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    Ok(status_json(&sync_counters(r)?, status, now))
}
