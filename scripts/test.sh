#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and integration tests against throwaway Dovecot
# servers started by the tests themselves on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo test --workspace --locked "$@"
