#!/usr/bin/env bash
# End-to-end demo on a fresh machine: two throwaway Dovecot servers on loopback (host1 with
# the Courier-like "INBOX." prefix and "." separator, host2 with "/"), host1 filled with a
# small realistic mailbox, a migration, a rerun that moves nothing, and an independent check
# that host2 now holds exactly host1's messages (bytes, flags, internal dates).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
echo "== building (release)"
cargo build --release --locked -p imapsync-cli -p imapsync-testkit 2>&1 | tail -n 2
BIN="$PWD/target/release"
WORK="$(mktemp -d -t imapsync-demo.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting two throwaway Dovecot servers"
"$BIN/imapsync-testkit" serve --layout dot --state-file "$WORK/h1.env" --var-prefix H1_ >"$WORK/h1.log" 2>&1 &
PIDS+=($!)
"$BIN/imapsync-testkit" serve --layout slash --state-file "$WORK/h2.env" --var-prefix H2_ >"$WORK/h2.log" 2>&1 &
PIDS+=($!)
for f in h1 h2; do
  for _ in $(seq 1 200); do [ -s "$WORK/$f.env" ] && break; sleep 0.1; done
  [ -s "$WORK/$f.env" ] || { echo "server $f did not start:"; cat "$WORK/$f.log"; exit 1; }
done
# shellcheck disable=SC1091
. "$WORK/h1.env"; . "$WORK/h2.env"
echo "host1: 127.0.0.1:$H1_PORT (separator '.', prefix 'INBOX.')   host2: 127.0.0.1:$H2_PORT (separator '/')"

echo "== filling host1 (user1) with a small mailbox"
"$BIN/imapsync-testkit" fill --port "$H1_PORT" --user user1 --pass pass1 --preset small

cd "$WORK"
run() {
  # The servers use a self-signed certificate: trust it explicitly (certificates are always
  # verified unless --sslargsN SSL_verify_mode=0 is given).
  "$BIN/imapsync" \
    --host1 127.0.0.1 --port1 "$H1_PORT" --user1 user1 --password1 pass1 \
    --host2 127.0.0.1 --port2 "$H2_PORT" --user2 user2 --password2 pass2 \
    --sslargs1 "SSL_ca_file=$H1_CA_PATH" --sslargs2 "SSL_ca_file=$H2_CA_PATH" \
    --statedir "$WORK/state" "$@"
}
summary() { sed -n '/^++++ Statistics/,$p'; }

echo
echo "== first run: the migration"
run | tee "$WORK/run1.txt" | summary
echo
echo "== second run: nothing changed, nothing to move"
run | tee "$WORK/run2.txt" | summary
echo
echo "== independent check of host2 against host1"
"$BIN/imapsync-testkit" verify --port1 "$H1_PORT" --user1 user1 --pass1 pass1 --sep1 . --prefix1 INBOX. \
  --port2 "$H2_PORT" --user2 user2 --pass2 pass2 --sep2 / --allow-extra-empty
