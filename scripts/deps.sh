#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmark need (Debian/Ubuntu): Dovecot for the
# throwaway test servers, openssl for their certificates, PostgreSQL for the batch tests (they
# start throwaway clusters of their own; the package's cluster is stopped). isync (mbsync) is
# optional: the benchmark runs it side by side when present (pass --with-mbsync to install it).
set -euo pipefail
need=()
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || need+=(dovecot-core dovecot-imapd)
command -v openssl >/dev/null || need+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ "${1:-}" = "--with-mbsync" ] && ! command -v mbsync >/dev/null; then need+=(isync); fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  if ! $SUDO apt-get install -y --no-install-recommends "${need[@]}" >"$log" 2>&1; then
    $SUDO apt-get update >>"$log" 2>&1
    $SUDO apt-get install -y --no-install-recommends "${need[@]}" >>"$log" 2>&1 \
      || { cat "$log" >&2; exit 1; }
  fi
  # The packages start a system-wide Dovecot and PostgreSQL; the tests use their own only.
  $SUDO systemctl disable --now dovecot >/dev/null 2>&1 || true
  $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
