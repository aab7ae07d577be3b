//! cargo-fuzz target `mutf7`: see `imapsync_proto::fuzzing::mutf7` for the input format and the
//! invariants checked.
#![no_main]

use imapsync_proto::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(v) = fuzzing::mutf7(data) {
        panic!("{v}");
    }
});
