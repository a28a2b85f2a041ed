//! `hidpos`: the property `returnsd::fuzzing::hidpos` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::hidpos(data));
