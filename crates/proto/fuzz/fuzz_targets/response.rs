//! cargo-fuzz target `response`: see `imapsync_proto::fuzzing::response` for the input format and the
//! invariants checked.
#![no_main]

use imapsync_proto::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(v) = fuzzing::response(data) {
        panic!("{v}");
    }
});
