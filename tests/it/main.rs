//! One integration-test binary for the whole crate.
mod arch;
mod bad_input;
mod central;
mod central_selftest;
mod cli;
mod crash;
mod devices;
mod fake_printer;
mod flow;
mod metrics;
mod printing;
mod props;
mod proxy;
mod sheet;
mod support;
mod sync;
mod tls;
