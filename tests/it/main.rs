//! One integration-test binary for the whole crate.
mod arch;
mod bad_input;
mod crash;
mod flow;
mod props;
mod sheet;
mod support;
