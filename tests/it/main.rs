//! One integration-test binary for the whole crate. The test kit it shares with the
//! benches (`tests/kit/`) is included as `kit`; `support` and `api_client` are its
//! test-only side.
#[path = "../kit/mod.rs"]
mod kit;

mod api;
mod api_client;
mod api_fuzz;
mod api_live;
mod arch;
mod backup;
mod bad_input;
mod barcode_rules;
mod browser;
mod central_selftest;
mod cli;
mod clock;
mod crash;
mod devices;
mod edges;
mod fake_printer;
mod faultfs;
mod flow;
mod fuzz_corpus;
mod handheld;
mod hid;
mod hotplug;
mod in_process;
mod kiosk;
mod labels;
mod logging;
mod metrics;
mod notify;
mod persist;
mod plans;
mod powercut;
mod printing;
mod props;
mod proxy;
mod reload;
mod schema;
mod secrets;
mod sheet;
mod soak;
mod stock;
mod supervisor;
mod support;
mod sync;
mod tls;
mod tls_http;
mod writer;
mod zones;
