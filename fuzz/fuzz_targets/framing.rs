//! `framing`: the property `returnsd::fuzzing::framing` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::framing(data));
