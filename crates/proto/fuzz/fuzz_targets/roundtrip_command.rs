//! cargo-fuzz target `roundtrip_command`: see `imapsync_proto::fuzzing::roundtrip_command` for the input format and the
//! invariants checked.
#![no_main]

use imapsync_proto::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(v) = fuzzing::roundtrip_command(data) {
        panic!("{v}");
    }
});
