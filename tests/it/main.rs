//! One integration-test binary for the whole crate.
mod arch;
mod bad_input;
mod cli;
mod crash;
mod flow;
mod props;
mod sheet;
mod support;
