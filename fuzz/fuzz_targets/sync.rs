//! `sync`: the property `returnsd::fuzzing::sync` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::sync(data));
