//! cargo-fuzz target `seqset`: see `imapsync_proto::fuzzing::seqset` for the input format and the
//! invariants checked.
#![no_main]

use imapsync_proto::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(v) = fuzzing::seqset(data) {
        panic!("{v}");
    }
});
