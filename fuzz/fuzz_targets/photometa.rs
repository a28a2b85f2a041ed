//! `photometa`: the property `returnsd::fuzzing::photometa` checks (README, "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returnsd::fuzzing::photometa(data));
