#!/usr/bin/env bash
# The batch benchmark: N accounts x M messages on two throwaway Dovecot servers (mail on
# tmpfs), copied three ways, each into a fresh destination server and verified exactly:
#   single  one account holding all N*M messages, one `imapsync` run (the single-account figure)
#   batch   `imapsync batch run --jobs J` over the N accounts (one process)
#   loop    one `imapsync` process per account, J at a time (what a shell loop with GNU parallel
#           or xargs -P gives), with imapsync's default connections
#   loopP   the same loop with the connection pairs the batch gives each account (8/J)
# Same corpus shape everywhere (the testkit's bench preset), same options, logs on.
#
#   bench/batch.sh [--accounts 500] [--messages 20] [--folders 3] [--jobs 8] [--keep]
#
# e.g. `bench/batch.sh --accounts 500 --messages 20` and `bench/batch.sh --accounts 50
# --messages 200 --folders 8` (both 10,000 messages).
set -euo pipefail
cd "$(dirname "$0")/.."
ACCOUNTS=500 MESSAGES=20 FOLDERS=3 JOBS=8 KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --accounts) ACCOUNTS=$2; shift 2;;
    --messages) MESSAGES=$2; shift 2;;
    --folders) FOLDERS=$2; shift 2;;
    --jobs) JOBS=$2; shift 2;;
    --keep) KEEP=1; shift;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
TOTAL=$((ACCOUNTS * MESSAGES))
bash scripts/deps.sh
cargo build --release --locked -p imapsync-cli -p imapsync-testkit 2>&1 | tail -n 1
BIN="$PWD/target/release"
TK="$BIN/imapsync-testkit"
MEASURE="python3 $PWD/bench/measure.py"
WORK="$(mktemp -d -t imapsync-batchbench.XXXXXX)"
MAILBASE="$(mktemp -d -p /dev/shm imapsync-batchbench.XXXXXX)"
chmod 0777 "$MAILBASE"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$KEEP" = 1 ] && { echo "kept $WORK"; return; }
  rm -rf "$WORK" "$MAILBASE"
}
trap cleanup EXIT
start() { # start NAME LAYOUT
  "$TK" serve --layout "$2" --mail-dir "$MAILBASE/$1" --users "$ACCOUNTS" \
    --state-file "$WORK/$1.env" --var-prefix "${1^^}_" >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
}
waitfile() { for _ in $(seq 1 600); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "timeout waiting for $1" >&2; exit 1; }
# One source, three destinations (one per way of copying).
start src dot; start dsingle slash; start dbatch slash; start dloop slash; start dloopp slash
for f in src dsingle dbatch dloop dloopp; do waitfile "$WORK/$f.env"; . "$WORK/$f.env"; done

echo "== corpus: $ACCOUNTS accounts x $MESSAGES messages ($FOLDERS folders each), and one account of $TOTAL"
t0=$(date +%s.%N)
seq 1 "$ACCOUNTS" | xargs -P 4 -I{} "$TK" fill --port "$SRC_PORT" --user acct{} --pass pass-acct{} \
  --preset bench --messages "$MESSAGES" --folders "$FOLDERS" --seed {} >/dev/null
"$TK" fill --port "$SRC_PORT" --user user1 --pass pass1 --preset bench --messages "$TOTAL" \
  --folders $((FOLDERS * 8 > 25 ? 25 : FOLDERS * 8)) >/dev/null
echo "filled in $(python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.0f}')" "$t0") s"

COMMON=(--nossl1 --notls1 --nossl2 --notls2 --nofoldersizes --nofoldersizesatend)
row() { # row NAME MESSAGES "measure-line" VERIFY
  python3 - "$@" <<'PY'
import sys, re
name, msgs, line, ver = sys.argv[1:]
f = dict(kv.split("=") for kv in line.split())
wall, cpu, rss, code = float(f["wall"]), float(f["cpu"]), int(f["maxrss_kb"]), f["exit"]
print(f"{name:8} {wall:8.2f} s {int(msgs)/wall:9.0f} msg/s  cpu {cpu:7.2f} s  rss {rss/1024:6.1f} MB  exit {code:>3}  {ver}")
PY
}
verify_many() { # verify_many PORT USERS...: exact copies of each account
  local port=$1; shift
  local bad=0
  printf '%s\n' "$@" | xargs -P 4 -I{} sh -c \
    "'$TK' verify --port1 $SRC_PORT --user1 {} --pass1 \$(case {} in user1) echo pass1;; *) echo pass-{};; esac) \
      --port2 $port --user2 {} --pass2 \$(case {} in user1) echo pass1;; *) echo pass-{};; esac) --allow-extra-empty >/dev/null 2>&1 || echo {}" \
    >"$WORK/verify-$port.bad" || true
  bad=$(grep -c . "$WORK/verify-$port.bad" || true)
  if [ "$bad" = 0 ]; then echo "exact ($# accounts)"; else echo "DIFFERS in $bad accounts"; KEEP=1; fi
}
USERS=$(seq -f 'acct%g' 1 "$ACCOUNTS")
# shellcheck disable=SC2086
set -- $USERS

echo "way      wall          rate          CPU              peak RSS            verification"
# single: one account, all messages
r=$($MEASURE "$WORK/single.out" "$BIN/imapsync" --host1 127.0.0.1 --port1 "$SRC_PORT" --user1 user1 --password1 pass1 \
  --host2 127.0.0.1 --port2 "$DSINGLE_PORT" --user2 user1 --password2 pass1 "${COMMON[@]}" \
  --statedir "$WORK/state-single" --logdir "$WORK/log-single" --pidfile "" 2>&1 | tail -n 1)
row single "$TOTAL" "$r" "$(verify_many "$DSINGLE_PORT" user1)"
SINGLE_WALL=$(sed -n 's/.*wall=\([0-9.]*\).*/\1/p' <<<"$r")

# batch: the N accounts in one process
for i in $(seq 1 "$ACCOUNTS"); do
  echo "127.0.0.1:$SRC_PORT;acct$i;pass-acct$i;127.0.0.1:$DBATCH_PORT;acct$i;pass-acct$i;"
done >"$WORK/accounts.txt"
r=$(cd "$WORK" && $MEASURE "$WORK/batch.out" "$BIN/imapsync" batch run --accounts accounts.txt \
  --store "$WORK/batch.sqlite" --jobs "$JOBS" "${COMMON[@]}" --statedir "$WORK/state-batch" \
  --logdir "$WORK/log-batch" 2>&1 | tail -n 1)
row batch "$TOTAL" "$r" "$(verify_many "$DBATCH_PORT" "$@")"
BATCH_WALL=$(sed -n 's/.*wall=\([0-9.]*\).*/\1/p' <<<"$r")

# loop: one process per account, JOBS at a time; then the same with the batch's pairs
PAIRS=$(( 8 / JOBS )); [ "$PAIRS" -lt 1 ] && PAIRS=1; [ "$PAIRS" -gt 4 ] && PAIRS=4
loop() { # loop NAME PORT EXTRA...
  local name=$1 port=$2; shift 2
  cat >"$WORK/one-$name.sh" <<SH
#!/bin/sh
exec "$BIN/imapsync" --host1 127.0.0.1 --port1 "$SRC_PORT" --user1 "acct\$1" --password1 "pass-acct\$1" \
  --host2 127.0.0.1 --port2 "$port" --user2 "acct\$1" --password2 "pass-acct\$1" ${COMMON[*]} $* \
  --statedir "$WORK/state-$name" --logdir "$WORK/log-$name" --pidfile "" >/dev/null 2>&1
SH
  chmod +x "$WORK/one-$name.sh"
  if command -v parallel >/dev/null; then
    $MEASURE "$WORK/$name.out" sh -c "seq 1 $ACCOUNTS | parallel -j $JOBS $WORK/one-$name.sh {}" 2>&1 | tail -n 1
  else
    $MEASURE "$WORK/$name.out" sh -c "seq 1 $ACCOUNTS | xargs -P $JOBS -n 1 $WORK/one-$name.sh" 2>&1 | tail -n 1
  fi
}
r=$(loop loop "$DLOOP_PORT")
row loop "$TOTAL" "$r" "$(verify_many "$DLOOP_PORT" "$@")"
LOOP_WALL=$(sed -n 's/.*wall=\([0-9.]*\).*/\1/p' <<<"$r")
r=$(loop loopP "$DLOOPP_PORT" --connections1 "$PAIRS" --connections2 "$PAIRS")
row "loop$PAIRS" "$TOTAL" "$r" "$(verify_many "$DLOOPP_PORT" "$@")"
LOOPP_WALL=$(sed -n 's/.*wall=\([0-9.]*\).*/\1/p' <<<"$r")

python3 - "$SINGLE_WALL" "$BATCH_WALL" "$LOOP_WALL" "$LOOPP_WALL" "$ACCOUNTS" "$MESSAGES" "$JOBS" <<'PY'
import sys
s, b, l, lp = map(float, sys.argv[1:5])
n, m, j = sys.argv[5:8]
print(f"{n} accounts x {m} messages, {j} at once: batch = {s / b * 100:.0f}% of the single-account msg/s, "
      f"{l / b:.2f}x the per-process loop with imapsync's connections, {lp / b:.2f}x with the batch's")
PY
grep -E "^batch: [0-9]+ accounts:" "$WORK/batch.out" || true
