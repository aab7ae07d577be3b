#!/bin/sh
# Coverage-guided libFuzzer runs of the targets with a *stable* toolchain.
#
#   crates/proto/fuzz/run-stable.sh [seconds-per-target] [target...]
#
# cargo-fuzz needs nightly only for -Zsanitizer; the SanitizerCoverage instrumentation
# libFuzzer is guided by is reachable on stable through -Cpasses=sancov-module and LLVM
# options, which is all this script adds (no AddressSanitizer: the crate has no unsafe code).
# New inputs go to fuzz/work (ignored by git; FUZZ_WORK overrides; the committed seeds in
# corpus/<target> are only read); crashes are written to fuzz/artifacts/<target>/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-framer response roundtrip_command mutf7 seqset}
triple=$(rustc -vV | sed -n 's/^host: //p')
work=${FUZZ_WORK:-work}
cd "$here"
RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cdebug-assertions -Coverflow-checks" \
    cargo build --release --bins --target "$triple" --target-dir target/stable-sancov
for t in $targets; do
    mkdir -p "$work/$t" "artifacts/$t"
    echo "== $t: ${secs}s, work corpus $work/$t"
    "target/stable-sancov/$triple/release/$t" -max_total_time="$secs" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="artifacts/$t/" \
        -print_final_stats=1 "$work/$t" "corpus/$t" 2>&1 | grep -v '^WARNING: Failed to find function' | tail -n 12
done
