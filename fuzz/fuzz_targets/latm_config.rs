#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gstrustrtsp::fuzzing::latm_config(data));
