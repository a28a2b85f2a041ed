//! Device layer: scanner transports feeding scans into the engine.
//!
//! - [`framing`]: pure byte-stream → scan framing (suffix, quiet gap, length guard).
//! - [`keyboard`]: pure USB HID boot-keyboard report → bytes decoding (US layout).
//! - [`layout`]: keyboard layout overrides (German, French, custom tables) for wedge scanners.
//! - [`hiddesc`]: pure HID report-descriptor walker (fields by bit offset, top-level usages).
//! - [`hidpos`]: pure HID POS (usage page 0x8C) report layout and multi-report reassembly.
//! - [`hid`]: hidraw scanner actor (HID POS or keyboard wedge) with hotplug (inotify on the
//!   dev directory; sysfs polled every second as the fallback).
//! - [`nodewatch`]: inotify on a device node's directory: wakes an actor when it appears.
//! - [`devices_cmd`]: `returnsd devices` (what is plugged in, with config snippets).
//! - [`discover`]: hidraw nodes and serial ports from sysfs (no libudev).
//! - [`profiles`]: embedded scanner profiles (`devices/scanners/*.toml`).
//! - [`scanner_config`]: `[[scanners]]` + profile → validated serial / HID POS / keyboard config.
//! - [`serial`]: serial-port scanner actor, reopened when its node appears (inotify; a
//!   backoff capped at 1 s as the fallback), with a status channel.
pub mod devices_cmd;
pub mod discover;
pub mod framing;
pub mod hid;
pub mod hiddesc;
pub mod hidpos;
pub mod keyboard;
pub mod layout;
pub mod nodewatch;
pub mod profiles;
pub mod scanner_config;
pub mod serial;
