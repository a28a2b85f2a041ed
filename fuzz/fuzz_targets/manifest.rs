//! `manifest`: the property `returnsd::fuzzing::manifest` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::manifest(data));
