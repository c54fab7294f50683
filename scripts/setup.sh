#!/usr/bin/env bash
# Installs what hostflow needs to build, run and test, idempotently.
#   scripts/setup.sh run    what `make demo` needs (libchdb, console build deps)
#   scripts/setup.sh test   everything the test suite needs (adds Debian peers,
#                           staticcheck, Chromium)
# Safe to run repeatedly: each step checks before it installs. Needs root for
# apt; without root, missing Debian packages are reported and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-test}
CACHE=${HOSTFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hostflow}
CHDB_VERSION=26.7.3-stable.1
CHDB_INTEGRITY='sha512-XP97mMqnc5tZpKQywR8N7cLTsHNiTmHr30pC5mzo3jWmukjKn2IBa60c2B/gWUNcuFjOMjWoorQICCqBVj5wpw=='
STATICCHECK_VERSION=v0.8.2
NFPM_VERSION=v2.45.2
GOFLOW2_VERSION=v2.2.6
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup] %s\n' "$*" >&2; }

test_pkgs=(tshark pmacct softflowd snmpd snmp iperf3 clickhouse-server chromium iproute2 libcap2-bin procps tcpdump ethtool iputils-ping debootstrap systemd nftables bc strace)

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "not root: cannot install ${missing[*]} (tests needing them will skip)"
    return 0
  fi
  log "apt-get install ${missing[*]}"
  # wireshark-common asks whether non-root users may capture; answer no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  # Wait for another apt/dpkg run rather than fail.
  apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts these daemons on install; tests start their own instances.
  for svc in snmpd clickhouse-server pmacctd softflowd; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
      systemctl stop "$svc" || true
      systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
  done
}

# libchdb.so comes from the npm package @chdb/lib-linux-x64-gnu: fetched with
# `npm pack`, checked against the pinned integrity, unpacked into the cache.
install_chdb() {
  local dir="$CACHE/chdb/$CHDB_VERSION"
  if [ -s "$dir/libchdb.so" ]; then
    return 0
  fi
  command -v npm >/dev/null || apt_install npm
  mkdir -p "$dir"
  local tmp
  tmp=$(mktemp -d "$CACHE/chdb/pack.XXXXXX")
  log "fetching libchdb $CHDB_VERSION (npm pack, ~180 MB)"
  (cd "$tmp" && npm pack --silent "@chdb/lib-linux-x64-gnu@$CHDB_VERSION" >/dev/null)
  local tgz
  tgz=$(ls "$tmp"/*.tgz)
  local got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$CHDB_INTEGRITY" ]; then
    log "libchdb tarball integrity mismatch: got $got"
    rm -rf "$tmp"
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp" package/libchdb.so
  mv "$tmp/package/libchdb.so" "$dir/libchdb.so.tmp"
  mv "$dir/libchdb.so.tmp" "$dir/libchdb.so"
  rm -rf "$tmp"
  log "libchdb installed at $dir/libchdb.so"
}

install_staticcheck() {
  local bin
  bin="$(go env GOPATH)/bin/staticcheck"
  if [ -x "$bin" ] && "$bin" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
    return 0
  fi
  log "go install staticcheck $STATICCHECK_VERSION"
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
}

# nfpm builds the .deb packages (make package); a Go module, installed into
# the cache so it does not touch the user's GOPATH/bin.
install_nfpm() {
  [ -x "$CACHE/bin/nfpm" ] && return 0
  log "go install nfpm $NFPM_VERSION"
  GOBIN="$CACHE/bin" go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
}

# goflow2 is a peer in the agent's interoperability test and the ingest
# benchmark (optional: tests skip it when absent).
install_goflow2() {
  [ -x "$CACHE/bin/goflow2" ] && return 0
  log "go install goflow2 $GOFLOW2_VERSION"
  GOBIN="$CACHE/bin" go install "github.com/netsampler/goflow2/v2/cmd/goflow2@$GOFLOW2_VERSION" || log "goflow2 unavailable; its checks will skip"
}

install_console_deps() {
  [ -f console/web/package.json ] || return 0
  if [ ! -d console/web/node_modules ] || [ console/web/package-lock.json -nt console/web/node_modules ]; then
    log "npm ci (console)"
    (cd console/web && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

case "$mode" in
  run)
    command -v npm >/dev/null || apt_install nodejs npm
    install_chdb
    install_console_deps
    ;;
  test)
    command -v npm >/dev/null || apt_install nodejs npm
    apt_install "${test_pkgs[@]}"
    install_chdb
    install_staticcheck
    install_nfpm
    install_goflow2
    install_console_deps
    ;;
  *)
    echo "usage: $0 run|test" >&2
    exit 2
    ;;
esac
echo "$CACHE/chdb/$CHDB_VERSION/libchdb.so" > "$CACHE/chdb/current"
