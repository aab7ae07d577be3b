//! cargo-fuzz target `framer`: see `imapsync_proto::fuzzing::framer` for the input format and the
//! invariants checked.
#![no_main]

use imapsync_proto::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(v) = fuzzing::framer(data) {
        panic!("{v}");
    }
});
