//! One integration-test binary for the whole crate.
mod arch;
mod bad_input;
mod central;
mod central_selftest;
mod cli;
mod crash;
mod devices;
mod flow;
mod hid;
mod metrics;
mod props;
mod proxy;
mod sheet;
mod support;
mod sync;
mod tls;
