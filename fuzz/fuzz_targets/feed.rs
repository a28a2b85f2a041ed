//! `feed`: the property `returnsd::fuzzing::feed` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::feed(data));
