//! `scan`: the property `returnsd::fuzzing::scan` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::scan(data));
