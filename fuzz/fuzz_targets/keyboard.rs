//! `keyboard`: the property `returnsd::fuzzing::keyboard` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::keyboard(data));
