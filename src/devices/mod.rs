//! Device layer: scanner transports feeding scans into the engine.
//!
//! - [`framing`]: pure byte-stream → scan framing (suffix, quiet gap, length guard).
//! - [`keyboard`]: pure USB HID boot-keyboard report → bytes decoding (US layout).
//! - [`serial`]: serial-port scanner actor with reconnect/backoff and a status channel.
//! - [`zpl_status`], [`tspl_status`]: the printers' status answers.
//! - [`board`]: the live state of every device, for the views and alarms.
pub mod board;
pub mod framing;
pub mod keyboard;
pub mod serial;
pub mod tspl_status;
pub mod zpl_status;
