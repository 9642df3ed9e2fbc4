#!/usr/bin/env bash
# Brings up the local demo: installs PostgreSQL if missing, starts a
# cluster under .demo/ with a generated Hubble-like schema, runs one backup
# (printing the archive's path), then runs the service on
# http://localhost:${DEMO_PORT:-5000} in the foreground until Ctrl-C.
# When it ends (Ctrl-C, an error, or after the backup with DEMO_NO_SERVE=1)
# it stops its PostgreSQL, unless DEMO_KEEP_PG=1; `make demo-stop` stops a
# cluster left running.
#
#   DEMO_PORT      port of the API (default 5000)
#   DEMO_PG_PORT   port of the demo's PostgreSQL (default 55432)
#   DEMO_DIR       where the demo keeps its cluster, archives and state (default .demo)
#   DEMO_NO_SERVE  1: stop after the backup
#   DEMO_KEEP_PG   1: leave the demo's PostgreSQL running at the end
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
bash scripts/deps.sh

demo="${DEMO_DIR:-$PWD/.demo}"
api_port="${DEMO_PORT:-5000}"
pg_port="${DEMO_PG_PORT:-55432}"
mkdir -p "$demo"/{backups,tmp,state}
# The demo cluster runs as the postgres user when we are root: it must be
# able to reach .demo/ (the checkout itself must be world-searchable too).
chmod 755 "$demo"

echo "== building" >&2
make -s build
bin="$PWD/bin/hubble-applianceapi"
go build -o "$demo/devcluster" ./tools/devcluster

stop_pg() {
  [ -f "$demo/pg/data/PG_VERSION" ] || return 0
  echo "== stopping the demo PostgreSQL cluster in $demo/pg" >&2
  "$demo/devcluster" stop --dir "$demo/pg" || true
}
if [ "${DEMO_KEEP_PG:-}" != 1 ]; then
  trap stop_pg EXIT
fi

echo "== starting the demo PostgreSQL cluster in $demo/pg" >&2
demo_dsn=$("$demo/devcluster" start --dir "$demo/pg" --port "$pg_port" --db hubble_demo | tail -n 1)
echo "== the Hubble-like demo schema (generated once)" >&2
"$demo/devcluster" gen --dsn "$demo_dsn" --kind hubble --if-missing

# The replication tool (repctl) only exists on a real appliance: the demo
# uses the test stand-in, which honours the same arguments.
cp testdata/repctl "$demo/repctl"
chmod 755 "$demo" "$demo/repctl"
cat > "$demo/config.yaml" <<YAML
listen: ":$api_port"
backup_dir: $demo/backups
temp_dir: $demo/tmp
min_free_mb: 100
log_file: $demo/ybapi.log
state_dir: $demo/state
database:
  engine: postgres
  dsn: "$demo_dsn"
  schema: hubble
  parallel: 2
replication:
  enabled: true
  export_command: ["$demo/repctl", "exportrepository", "json_file={file}"]
  import_command: ["$demo/repctl", "importrepository", "json_file={file}"]
  user: ""
YAML

echo "== one backup in the foreground" >&2
archive=$("$bin" backup --config "$demo/config.yaml" 2>>"$demo/backup.log" | tail -n 1)
echo "archive: $archive"
"$bin" verify "$archive"

if [ "${DEMO_NO_SERVE:-}" = 1 ]; then exit 0; fi
echo "== serving on http://localhost:$api_port/api/ (Ctrl-C stops the service, then the demo's PostgreSQL)" >&2
echo "   try: curl -X POST -d \"\" http://localhost:$api_port/api/Backup/Execute" >&2
# Not exec: the EXIT trap stops the cluster once the service has stopped.
"$bin" serve --config "$demo/config.yaml"
