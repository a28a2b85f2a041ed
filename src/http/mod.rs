//! The station's HTTP server: the central's pull endpoints of the sync contract
//! (`GET /v1/sync/events`, `POST /v1/sync/ack`, with the central's bearer token),
//! `GET /metrics`, `GET /healthz`, the operator API under `/api/v1`, and the pages (the
//! keeper's kiosk with its snapshot, the handheld and supervisor pages).
//!
//! Files, by what they serve:
//! - the server: `router.rs` (routes, serve), `state.rs` (`HttpState`, `ApiState`, the
//!   shared reader), `conn.rs` (connection cap, idle timeout, TLS accept), `tls.rs` (the
//!   station's certificate);
//! - the central and monitoring: `pull.rs` (pull protocol), `metrics.rs` (`/metrics`),
//!   `status.rs` (the sync status as every answer shows it);
//! - the operator API: `api.rs` (route table and request pipeline), `ctx.rs` (a request
//!   as endpoints get it: `Ctx`, `Outcome`), `request.rs` (path ids, JSON bodies),
//!   `query.rs`, `auth/` (sessions, PINs, CSRF), `idem.rs` (idempotency keys), `error.rs`
//!   (the error envelope, `ReadError`), `dto.rs` (wire types), `openapi.rs`; the
//!   endpoints: `ops.rs` (login, logout, commands), `reads.rs` (returns, journal),
//!   `stock.rs` (zones, RTV notes, defect items), `health.rs` (devices, alarms, sync),
//!   `print_jobs.rs`, `upload.rs` (photos), `live.rs` (the event stream);
//! - the pages: `kiosk.rs` (routes, access), `kiosk_view.rs` (the snapshot),
//!   `kiosk_scan.rs` (a scan as the kiosk tells it), `assets.rs` (files).
//!
//! Architecture invariant: `http` names no `rusqlite` — it reads through
//! `store::Reader` and the store's read models — and no other edge (`sync`, `printing`,
//! `devices`, `feed`) but through the one file each that says why (`status.rs`,
//! `print_jobs.rs`). This file only declares and re-exports: a parent that children
//! name would tie them in a cycle.

pub mod api;
pub mod assets;
pub mod auth;
pub mod conn;
pub mod ctx;
pub mod dto;
pub mod error;
pub mod health;
pub mod idem;
pub mod kiosk;
mod kiosk_scan;
mod kiosk_view;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod print_jobs;
pub mod pull;
pub mod qc;
pub mod query;
pub mod reads;
pub mod request;
pub mod router;
pub mod state;
pub mod status;
pub mod stock;
pub mod tls;
pub mod upload;

pub use router::{router, serve};
pub use state::{ApiState, HttpState};
