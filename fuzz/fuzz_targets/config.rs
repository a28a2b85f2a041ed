//! `config`: the property `returnsd::fuzzing::config` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::config(data));
