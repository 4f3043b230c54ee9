#!/usr/bin/env bash
# Private, throw-away PostgreSQL cluster for development and CI.
#
# Usage: scripts/postgres.sh ensure|start|stop|status|createdb NAME|dropdb NAME|url [NAME]
#
# Env:
#   PGPORT       TCP port on 127.0.0.1 (default: POSTGRES_PORT of the registry,
#                yoga_common/system.py, read with <repo>/.venv/bin/python or python3)
#   PGDATA_DIR   cluster data dir (default <repo>/var/pg); the socket dir and the
#                server log go next to it, in <parent>/pg-run. If the default is not
#                reachable by the postgres user (repo under a mode-700 dir such as
#                /root) or its path is too long for a socket, the default becomes
#                /tmp/yoga-pg-<hash of repo path>/pg instead.
#
# The server always runs as the `postgres` OS user (via runuser when we are root).
# Auth is `trust`, and the server listens on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_USER=postgres

die() { echo "postgres.sh: ERROR: $*" >&2; exit 1; }
log() { echo "postgres.sh: $*" >&2; }

# One fact of the registry; it imports nothing but the standard library, so any Python 3 reads it.
registry() {
  local py=$ROOT/.venv/bin/python
  [[ -x $py ]] || py=python3
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$py" -m yoga_common.system "$1"
}

PORT=${PGPORT:-$(registry postgres-port)} || die "cannot read PostgreSQL's port from yoga_common/system.py"

# Server binaries of the newest installed major version ("" if none).
pg_bindir() {
  local d
  d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/pg_ctl' 2>/dev/null | sort -V | tail -n1)
  if [[ -n $d ]]; then dirname "$d"; fi
}

# Run a server-side command as the postgres OS user (from /, since the caller's
# cwd may be unreadable to that user).
as_pg() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u "$PG_USER" -- "$@"); else "$@"; fi
}

cmd_ensure() {
  if [[ -z $(pg_bindir) ]]; then
    [[ $EUID -eq 0 ]] || die "PostgreSQL server not installed and not root: install the 'postgresql' package"
    log "installing PostgreSQL server (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends postgresql
  fi
  BIN=$(pg_bindir)
  [[ -n $BIN ]] || die "no /usr/lib/postgresql/*/bin/pg_ctl after install"
  log "using $("$BIN/postgres" --version) from $BIN"
}

# Pick PG_DATA / PG_RUN. The postgres user must be able to traverse every parent
# dir; rather than chmod e.g. /root, fall back to a per-repo dir under /tmp.
resolve_dirs() {
  PG_DATA=${PGDATA_DIR:-$ROOT/var/pg}
  if [[ -z ${PGDATA_DIR:-} ]]; then
    local unreachable=0
    if [[ $EUID -eq 0 ]] && id -u "$PG_USER" >/dev/null 2>&1; then
      as_pg test -x "$ROOT" || unreachable=1
    fi
    # Unix socket paths are limited to 107 bytes (.s.PGSQL.NNNNN is appended).
    if (( unreachable || ${#ROOT} > 80 )); then
      PG_DATA=/tmp/yoga-pg-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)/pg
    fi
  fi
  PG_RUN=$(dirname "$PG_DATA")/pg-run
}

# Create the data and socket dirs, owned by the postgres user.
prepare_dirs() {
  mkdir -p "$PG_DATA" "$PG_RUN"
  if [[ $EUID -eq 0 ]]; then
    chown "$PG_USER:" "$PG_DATA" "$PG_RUN"
    chmod 700 "$PG_DATA"
    chmod 755 "$PG_RUN"
    as_pg test -w "$PG_DATA" -a -w "$PG_RUN" ||
      die "user '$PG_USER' cannot write $PG_DATA or $PG_RUN (a parent dir is not traversable?); set PGDATA_DIR"
  fi
  (( ${#PG_RUN} < 90 )) || die "socket dir path too long ($PG_RUN); set PGDATA_DIR to a shorter path"
}

is_running() { as_pg "$BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }
port_answers() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2; }

cmd_start() {
  cmd_ensure
  resolve_dirs
  prepare_dirs
  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    log "initdb $PG_DATA"
    as_pg "$BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    # trust, but only over the socket and loopback.
    as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<'EOF'
local all all              trust
host  all all 127.0.0.1/32 trust
host  all all ::1/128      trust
EOF
    echo "include_if_exists = 'yoga.conf'" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  fi
  # Rewritten on every start so PGPORT / dir changes take effect.
  as_pg tee "$PG_DATA/yoga.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$PG_RUN'
shared_buffers = 64MB
max_connections = 300
synchronous_commit = off
EOF
  if is_running; then
    port_answers || die "cluster $PG_DATA is running but not answering on 127.0.0.1:$PORT (started with another PGPORT? run stop first)"
    log "already running on 127.0.0.1:$PORT"
    return 0
  fi
  if port_answers; then
    die "port $PORT already served by another PostgreSQL (not $PG_DATA); stop it or set PGPORT"
  fi
  log "starting on 127.0.0.1:$PORT (log: $PG_RUN/server.log)"
  if ! as_pg "$BIN/pg_ctl" start -w -t 60 -D "$PG_DATA" -l "$PG_RUN/server.log" >/dev/null; then
    tail -n 30 "$PG_RUN/server.log" >&2 || true
    die "PostgreSQL failed to start"
  fi
  local _
  for _ in $(seq 1 60); do
    port_answers && { log "ready"; return 0; }
    sleep 0.5
  done
  tail -n 30 "$PG_RUN/server.log" >&2 || true
  die "PostgreSQL started but pg_isready does not answer on 127.0.0.1:$PORT"
}

cmd_stop() {
  BIN=$(pg_bindir)
  resolve_dirs
  [[ -n $BIN && -s $PG_DATA/PG_VERSION ]] || { log "no cluster at $PG_DATA"; return 0; }
  if is_running; then
    as_pg "$BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w >/dev/null
    log "stopped"
  else
    log "not running"
  fi
}

cmd_status() {
  BIN=$(pg_bindir)
  [[ -n $BIN ]] || die "PostgreSQL not installed"
  resolve_dirs
  if is_running && port_answers; then echo "running on 127.0.0.1:$PORT ($PG_DATA)"; else echo "stopped"; return 3; fi
}

# psql over TCP as the postgres role; works for any trust server on the port.
psql_() { PGOPTIONS="-c client_min_messages=warning" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }

db_exists() {
  # psql variables (:'name') quote safely but only work on stdin, not with -c.
  [[ $(psql_ -tA -v name="$1" <<<"SELECT 1 FROM pg_database WHERE datname = :'name';") == 1 ]]
}

cmd_createdb() {
  BIN=$(pg_bindir)
  if db_exists "$1"; then log "database $1 exists"; return 0; fi
  psql_ -v name="$1" <<<'CREATE DATABASE :"name" OWNER postgres;'
  log "created database $1"
}

cmd_dropdb() {
  BIN=$(pg_bindir)
  psql_ -v name="$1" <<<'DROP DATABASE IF EXISTS :"name" WITH (FORCE);'
  log "dropped database $1 (if it existed)"
}

usage() {
  sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2
  exit 2
}

case ${1:-} in
  ensure) cmd_ensure ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  createdb) [[ -n ${2:-} ]] || usage; cmd_createdb "$2" ;;
  dropdb) [[ -n ${2:-} ]] || usage; cmd_dropdb "$2" ;;
  url) echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/${2:-yoga}" ;;
  *) usage ;;
esac
