#!/usr/bin/env bash
# The benchmark: two throwaway Dovecot servers (mail on tmpfs by default), a deterministic
# corpus, then three scenarios — initial copy, rerun with nothing changed, rerun after new
# messages and flag changes — each verified exactly (bytes, flags, keywords, dates, counts),
# with wall time, msgs/s, MB/s, peak RSS and CPU. mbsync (Debian isync) runs side by side on
# the same corpus when installed, into its own destination server.
#
#   bench/bench.sh [--messages 10000] [--folders 25] [--disk] [--latency-ms MS]
#                  [--connections N] [--tls] [--no-mbsync] [--keep] [--also SERVER]...
#
# --also SERVER copies the same corpus a second time into another destination and reports its
# initial copy beside the first one (Dovecot with LITERAL+): `literal-minus` is Dovecot
# advertising LITERAL- instead of LITERAL+ (as Gmail does: literals over 4 KiB must wait for
# the server's `+`), `courier` is Courier-IMAP (no LITERAL+ at all, every APPEND waits for
# its `+`; its mail is on disk, not tmpfs), `cyrus-slash`/`cyrus-dot` are Cyrus IMAPd
# (LITERAL+, on disk). Each is verified exactly like the main destination.
#
# --latency-ms MS puts a delay line of MS milliseconds each way (a 2*MS round trip) in front
# of every server, e.g. `--messages 1000 --folders 10 --latency-ms 10` for a 20 ms RTT link.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=10000 FOLDERS=25 DISK=0 LATENCY=0 CONNS="" TLS=0 MBSYNC=1 KEEP=0 NEW=100 CHANGES=500 ALSO=()
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) MESSAGES=$2; shift 2;;
    --folders) FOLDERS=$2; shift 2;;
    --disk) DISK=1; shift;;
    --latency-ms) LATENCY=$2; shift 2;;
    --connections) CONNS=$2; shift 2;;
    --tls) TLS=1; shift;;
    --no-mbsync) MBSYNC=0; shift;;
    --keep) KEEP=1; shift;;
    --new) NEW=$2; shift 2;;
    --flag-changes) CHANGES=$2; shift 2;;
    --also)
      case "$2" in literal-minus|courier|cyrus-slash|cyrus-dot) ALSO+=("$2");;
        *) echo "--also: literal-minus, courier, cyrus-slash or cyrus-dot" >&2; exit 2;; esac
      shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
bash scripts/deps.sh
cargo build --release --locked -p imapsync-cli -p imapsync-testkit 2>&1 | tail -n 1
BIN="$PWD/target/release"
TK="$BIN/imapsync-testkit"
MEASURE="python3 $PWD/bench/measure.py"
WORK="$(mktemp -d -t imapsync-bench.XXXXXX)"
if [ "$DISK" = 1 ]; then MAILBASE="$WORK/mail"; else MAILBASE="$(mktemp -d -p /dev/shm imapsync-bench.XXXXXX)"; fi
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
  "$TK" serve --layout "$2" --mail-dir "$MAILBASE/$1" --state-file "$WORK/$1.env" --var-prefix "${1^^}_" >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
}
waitfile() { for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "timeout waiting for $1" >&2; exit 1; }
start h1 dot; start h2 slash
start_also() { # start_also NAME: an extra destination, state in $WORK/x_NAME.env (X_NAME_*)
  local v; v="X_$(tr 'a-z-' 'A-Z_' <<<"$1")_"
  local args=(--server "$1")
  [ "$1" = literal-minus ] && args=(--layout slash --mail-dir "$MAILBASE/$1" --remove-cap LITERAL+ --add-cap LITERAL-)
  "$TK" serve "${args[@]}" --state-file "$WORK/x_$1.env" --var-prefix "$v" >"$WORK/x_$1.log" 2>&1 &
  PIDS+=($!)
}
for x in "${ALSO[@]}"; do start_also "$x"; done
[ "$MBSYNC" = 1 ] && command -v mbsync >/dev/null || MBSYNC=0
[ "$MBSYNC" = 1 ] && start m2 slash
for f in h1 h2 $([ "$MBSYNC" = 1 ] && echo m2) "${ALSO[@]/#/x_}"; do waitfile "$WORK/$f.env"; . "$WORK/$f.env"; done
P1=$H1_PORT P2=$H2_PORT PM=${M2_PORT:-0}
if [ "$LATENCY" != 0 ]; then
  for f in h1 h2 $([ "$MBSYNC" = 1 ] && echo m2); do
    v="${f^^}_PORT"
    "$TK" proxy --target "127.0.0.1:${!v}" --latency-ms "$LATENCY" --state-file "$WORK/p$f.env" --var-prefix "P${f^^}_" >"$WORK/p$f.log" 2>&1 &
    PIDS+=($!)
    waitfile "$WORK/p$f.env"; . "$WORK/p$f.env"
  done
  P1=$PH1_PORT P2=$PH2_PORT PM=${PM2_PORT:-0}
fi

echo "== corpus: $MESSAGES messages in $FOLDERS folders"
"$TK" fill --port "$H1_PORT" --user user1 --pass pass1 --preset bench --messages "$MESSAGES" --folders "$FOLDERS"
read -r COUNT BYTES < <(python3 - "$H1_PORT" <<'PY'
import imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("user1", "pass1")
n = b = 0
for line in m.list()[1]:
    name = re.match(rb'\(.*?\) "." (.*)$', line).group(1).decode()
    typ, data = m.status(name, "(MESSAGES SIZE)")
    mm = re.search(rb"MESSAGES (\d+) SIZE (\d+)", data[0])
    n += int(mm.group(1)); b += int(mm.group(2))
print(n, b)
PY
)
echo "host1: $COUNT messages, $BYTES bytes"


if [ "$TLS" = 1 ]; then
  SEC=(--sslargs1 "SSL_ca_file=$H1_CA_PATH" --sslargs2 "SSL_ca_file=$H2_CA_PATH")
else
  SEC=(--nossl1 --notls1 --nossl2 --notls2)
fi
EXTRA=(); [ -n "$CONNS" ] && EXTRA=(--connections1 "$CONNS" --connections2 "$CONNS")
ours() { # ours SCENARIO [PORT2 SEC2...]: one run into host2 (or into PORT2)
  local name=$1 port2=${2:-$P2}; shift; [ $# -gt 0 ] && shift
  local sec2=("${SEC[@]}"); [ $# -gt 0 ] && sec2=("$@")
  $MEASURE "$WORK/$name.out" "$BIN/imapsync" --host1 127.0.0.1 --port1 "$P1" --user1 user1 --password1 pass1 \
    --host2 127.0.0.1 --port2 "$port2" --user2 user1 --password2 pass1 "${sec2[@]}" "${EXTRA[@]}" \
    --statedir "$WORK/state-$port2" --nolog --nofoldersizes --nofoldersizesatend --pidfile "" 2>&1 | tail -n 1
}
cat >"$WORK/mbsyncrc" <<RC
IMAPAccount src
Host 127.0.0.1
Port $P1
User user1
Pass pass1
SSLType None
AuthMechs LOGIN

IMAPStore src
Account src

IMAPAccount dst
Host 127.0.0.1
Port $PM
User user1
Pass pass1
SSLType None
AuthMechs LOGIN

IMAPStore dst
Account dst

Channel bench
Far :src:
Near :dst:
Patterns *
Create Near
Sync Pull
CopyArrivalDate yes
SyncState $WORK/mbsync-state/
RC
mkdir -p "$WORK/mbsync-state"
theirs() { $MEASURE "$WORK/mbsync-$1.out" mbsync -q -c "$WORK/mbsyncrc" -a 2>&1 | tail -n 1; }
count() { # count PORT: messages in a mailbox (from the testkit digest)
  "$TK" snapshot --port "$1" --user user1 --pass pass1 | awk -F'\t' '$1=="TOTAL"{print $2}'
}
verify_mbsync() { # mbsync adds an X-TUID header to every copy, so bytes differ by design: count
  local a b; a=$(count "$H1_PORT"); b=$(count "$1")
  if [ "$a" = "$b" ]; then echo "count ok ($b; X-TUID added)"; else echo "COUNT DIFFERS ($b vs $a)"; fi
}
verify() { # verify PORT
  if "$TK" verify --port1 "$H1_PORT" --user1 user1 --pass1 pass1 --port2 "$1" --user2 user1 --pass2 pass1 --allow-extra-empty >"$WORK/verify.out" 2>&1; then
    echo "exact"
  else
    echo "DIFFERS ($(grep -c . "$WORK/verify.out") lines, see $WORK/verify.out)"; KEEP=1
  fi
}
report() { # report TOOL SCENARIO MSGS BYTES "measure-line" VERIFY
  local line="$5" wall cpu rss
  wall=$(sed -n 's/.*wall=\([0-9.]*\).*/\1/p' <<<"$line")
  cpu=$(sed -n 's/.*cpu=\([0-9.]*\).*/\1/p' <<<"$line")
  rss=$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' <<<"$line")
  local code; code=$(sed -n 's/.*exit=\([-0-9]*\).*/\1/p' <<<"$line")
  python3 - "$1" "$2" "$3" "$4" "$wall" "$cpu" "$rss" "$code" "$6" <<'PY'
import sys
tool, scen, msgs, nbytes, wall, cpu, rss, code, ver = sys.argv[1:]
msgs, nbytes, wall, cpu, rss = int(msgs), int(nbytes), float(wall), float(cpu), int(rss)
rate = msgs / wall if wall > 0 else 0
mbs = nbytes / wall / 1e6 if wall > 0 else 0
print(f"{tool:9} {scen:21} {wall:8.2f} s {rate:9.0f} msg/s {mbs:8.1f} MB/s  rss {rss/1024:6.1f} MB  cpu {cpu:6.2f} s  exit {code}  {ver}")
PY
}
RESULTS="$WORK/results"
echo "tool      scenario                  wall        rate          throughput    peak RSS     CPU" | tee "$RESULTS"
r=$(ours initial); report imapsync initial "$COUNT" "$BYTES" "$r" "$(verify "$H2_PORT")" | tee -a "$RESULTS"
if [ "$MBSYNC" = 1 ]; then
  r=$(theirs initial); report mbsync initial "$COUNT" "$BYTES" "$r" "$(verify_mbsync "$M2_PORT")" | tee -a "$RESULTS"
fi
for x in "${ALSO[@]}"; do
  v="X_$(tr 'a-z-' 'A-Z_' <<<"$x")_"; port="${v}PORT"; ca="${v}CA_PATH"
  if [ "$TLS" = 1 ]; then sec2=(--sslargs1 "SSL_ca_file=$H1_CA_PATH" --sslargs2 "SSL_ca_file=${!ca}")
  else sec2=(--nossl1 --notls1 --nossl2 --notls2); fi
  if [ "$LATENCY" != 0 ]; then
    "$TK" proxy --target "127.0.0.1:${!port}" --latency-ms "$LATENCY" --state-file "$WORK/px_$x.env" --var-prefix "PX_" >"$WORK/px_$x.log" 2>&1 &
    PIDS+=($!); waitfile "$WORK/px_$x.env"; . "$WORK/px_$x.env"; dest=$PX_PORT
  else dest=${!port}; fi
  r=$(ours "initial-$x" "$dest" "${sec2[@]}")
  report imapsync "initial>$x" "$COUNT" "$BYTES" "$r" "$(verify "${!port}")" | tee -a "$RESULTS"
done
r=$(ours noop); report imapsync noop "$COUNT" 0 "$r" "$(verify "$H2_PORT")" | tee -a "$RESULTS"
if [ "$MBSYNC" = 1 ]; then
  r=$(theirs noop); report mbsync noop "$COUNT" 0 "$r" "$(verify_mbsync "$M2_PORT")" | tee -a "$RESULTS"
fi
"$TK" mutate --port "$H1_PORT" --user user1 --pass pass1 --new "$NEW" --flag-changes "$CHANGES" >/dev/null
r=$(ours delta); report imapsync delta "$NEW" 0 "$r" "$(verify "$H2_PORT")" | tee -a "$RESULTS"
if [ "$MBSYNC" = 1 ]; then
  r=$(theirs delta); report mbsync delta "$NEW" 0 "$r" "$(verify_mbsync "$M2_PORT")" | tee -a "$RESULTS"
fi
grep -E "^(Messages transferred|Transfer time)" "$WORK/initial.out" | sed 's/^/imapsync initial: /'
if [ "$MBSYNC" = 1 ]; then
  python3 - "$RESULTS" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]).read().splitlines()[1:]:
    f = line.split()
    rows[(f[0], f[1])] = float(f[2])
for scen in ("initial", "noop", "delta"):
    a, b = rows.get(("imapsync", scen)), rows.get(("mbsync", scen))
    if a and b:
        print(f"ratio {scen:8} mbsync/imapsync-rs wall time = {b / a:.2f}x")
PY
fi
