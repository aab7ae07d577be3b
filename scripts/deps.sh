#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmark need (Debian/Ubuntu): Dovecot for the
# throwaway test servers, openssl for their certificates, PostgreSQL for the batch tests (they
# start throwaway clusters of their own; the package's cluster is stopped), and Cyrus IMAPd
# and Courier-IMAP for the server matrix. isync (mbsync) is optional: the benchmark runs it
# side by side when present (pass --with-mbsync to install it).
#
# Cyrus and Courier conflict with Dovecot as Debian packages (all three provide imap-server),
# so they are not installed: their .debs are downloaded (apt-get download) and unpacked
# without running any package script into $IMAPSYNC_TESTKIT_SERVERS (default
# target/test-servers), where the test harness (crates/testkit) runs them from, each in its
# own temp dir with its own configuration. Only the libraries they need are apt-installed;
# no system service is started or enabled.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVERS="${IMAPSYNC_TESTKIT_SERVERS:-$PWD/target/test-servers}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT

apt_install() {
  [ $# -gt 0 ] || return 0
  echo "installing: $*" >&2
  if ! $SUDO apt-get install -y --no-install-recommends "$@" >"$log" 2>&1; then
    $SUDO apt-get update >>"$log" 2>&1
    $SUDO apt-get install -y --no-install-recommends "$@" >>"$log" 2>&1 \
      || { cat "$log" >&2; exit 1; }
  fi
}

need=()
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || need+=(dovecot-core dovecot-imapd)
command -v openssl >/dev/null || need+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ "${1:-}" = "--with-mbsync" ] && ! command -v mbsync >/dev/null; then need+=(isync); fi
# Run-time libraries of Cyrus' master/imapd/ctl_cyrusdb and of Courier's couriertcpd,
# imaplogin, imapd, authdaemond, couriertls (checked with ldd below); sasl2-bin for
# saslpasswd2 (Cyrus users), perl for Courier's makeuserdb, util-linux for unshare/mount.
LIBS="libical3 libicu72 libjansson4 libkrb5-3 libldap-2.5-0 libpcre3 libpq5 libsasl2-2
  libsasl2-modules libsasl2-modules-db libsqlite3-0 libssl3 libwrap0 libxapian30 libxml2 zlib1g
  sasl2-bin libcrypt1 libgdbm6 libltdl7 libpam0g libstdc++6 libgnutls30 libidn12 libgamin0
  perl util-linux"
for p in $LIBS; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}"
  # The packages start a system-wide Dovecot and PostgreSQL; the tests use their own only.
  $SUDO systemctl disable --now dovecot >/dev/null 2>&1 || true
  $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi

# unpack NAME "PACKAGES" BINARIES...: download the packages' .debs and unpack them into
# $SERVERS/NAME (atomically; a tree with .complete is kept as is), then check with ldd that
# every library the given binaries need is found.
unpack() {
  local name=$1 pkgs=$2; shift 2
  local dest="$SERVERS/$name"
  [ -f "$dest/.complete" ] && return 0
  echo "unpacking $name ($pkgs) into $dest" >&2
  mkdir -p "$SERVERS"
  local tmp; tmp=$(mktemp -d "$SERVERS/.$name.XXXXXX")
  mkdir "$tmp/debs" "$tmp/root"
  # apt-get download writes as the _apt user when it can
  chmod 0777 "$tmp/debs"
  # shellcheck disable=SC2086
  if ! (cd "$tmp/debs" && apt-get download $pkgs) >"$log" 2>&1; then
    $SUDO apt-get update >>"$log" 2>&1
    # shellcheck disable=SC2086
    (cd "$tmp/debs" && apt-get download $pkgs) >>"$log" 2>&1 || { cat "$log" >&2; rm -rf "$tmp"; exit 1; }
  fi
  local f
  for f in "$tmp"/debs/*.deb; do
    dpkg-deb -x "$f" "$tmp/root"
    dpkg-deb -f "$f" Package Version | paste -sd' ' >>"$tmp/root/.complete.tmp"
  done
  local libpath b missing=""
  libpath=$(find "$tmp/root/usr/lib" -maxdepth 1 -type d -name '*-linux-gnu' | paste -sd:)
  for b in "$@"; do
    missing+=$(LD_LIBRARY_PATH="$libpath:$tmp/root/usr/lib" ldd "$tmp/root/$b" 2>&1 | grep 'not found' || true)
  done
  if [ -n "$missing" ]; then
    echo "$name: libraries not found after unpacking:" >&2; echo "$missing" >&2
    rm -rf "$tmp"; exit 1
  fi
  mv "$tmp/root/.complete.tmp" "$tmp/root/.complete"
  rm -rf "$dest"; mv "$tmp/root" "$dest"; rm -rf "$tmp"
}

unpack cyrus "cyrus-common cyrus-imapd" \
  usr/lib/cyrus/bin/master usr/lib/cyrus/bin/imapd usr/lib/cyrus/bin/ctl_cyrusdb
unpack courier "courier-imap courier-base courier-authlib courier-authdaemon courier-authlib-userdb libcourier-unicode4" \
  usr/sbin/couriertcpd usr/bin/imapd usr/bin/couriertls usr/lib/courier/courier/imaplogin \
  usr/lib/courier/courier-authlib/authdaemond usr/lib/courier-authlib/libauthuserdb.so
