//! `hiddesc`: the property `returnsd::fuzzing::hiddesc` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::hiddesc(data));
