#!/usr/bin/env bash
# Installs what building, testing and the demo need, only where missing, on a
# fresh Debian/Ubuntu machine: the PostgreSQL server and client tools, curl,
# systemd-analyze (unit file checks), Chromium (the web console's browser
# test), ip/nsenter (the access tests' network namespace), logrotate (the
# package's rule) and useradd (the appliance tests' replication user). Needs
# root (or sudo) only when it has something to install.
set -euo pipefail

need=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v pg_dump >/dev/null || need+=(postgresql-client)
command -v curl >/dev/null || need+=(curl)
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)   # the pooler test
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v gzip >/dev/null || need+=(gzip)
command -v make >/dev/null || need+=(make)
command -v gcc >/dev/null || need+=(gcc)    # cgo, for go test -race
command -v git >/dev/null || need+=(git)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
[ -x /usr/bin/time ] || need+=(time)   # peak RSS of a child process (bench, memory test)
command -v logrotate >/dev/null || [ -x /usr/sbin/logrotate ] || need+=(logrotate)   # the package's rule, checked
command -v useradd >/dev/null || [ -x /usr/sbin/useradd ] || need+=(passwd)   # appliance tests create an OS user

if ((${#need[@]})); then
  echo "deps: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "deps: Go is at /usr/local/go/bin; add it to PATH" >&2
  else
    echo "deps: Go 1.26 or newer is required (https://go.dev/dl/)" >&2
    exit 1
  fi
fi
