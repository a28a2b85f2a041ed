//! `gs1`: the property `returnsd::fuzzing::gs1` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::gs1(data));
