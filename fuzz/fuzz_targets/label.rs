//! `label`: the property `returnsd::fuzzing::label` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::label(data));
