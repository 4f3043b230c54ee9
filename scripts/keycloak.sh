#!/usr/bin/env bash
# Keycloak, the studio's OpenID Connect provider, for development and CI: the distribution from
# Maven (org.keycloak:keycloak-quarkus-dist), built once in the download cache, and an instance
# of it with its own data under KEYCLOAK_DIR, the `studio` realm imported from
# keycloak/studio-realm.json at its first start.
#
# Usage: scripts/keycloak.sh fetch|start|stop|status|url|secret NAME
#
# Env:
#   KEYCLOAK_PORT          HTTP on 127.0.0.1 (default: the registry's, yoga_common/system.py)
#   KEYCLOAK_MANAGEMENT_PORT  health on 127.0.0.1 (default KEYCLOAK_PORT + 1000)
#   KEYCLOAK_DIR           the instance: home (hard links into the cached build), data, secrets,
#                          keycloak.log, keycloak.pid (default <repo>/var/keycloak)
#   KEYCLOAK_VERSION       default 26.7.3
#   KEYCLOAK_JAVA_HOME     a Java 21+ (default: the newest JDK under /usr/lib/jvm that has one)
#   YOGA_CACHE             download cache (default ~/.cache/yoga)
#   KEYCLOAK_START_TIMEOUT seconds to wait for readiness (default 180)
#
# The instance's secrets (the bootstrap admin's password, the services' client secret, the
# demo users' passwords) are made at its first start under KEYCLOAK_DIR/secrets, never
# committed; `secret NAME` prints one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${KEYCLOAK_VERSION:-26.7.3}
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
PY=${PY:-$ROOT/.venv/bin/python}
REALM_FILE=$ROOT/keycloak/studio-realm.json
# Build-time options: the instance's database is a file of its own (H2, under its data/).
BUILD_OPTIONS=(--db=dev-file --cache=local --health-enabled=true --metrics-enabled=false)

die() { echo "keycloak.sh: ERROR: $*" >&2; exit 1; }
log() { echo "keycloak.sh: $*" >&2; }
# shellcheck source=lib/server.sh
source "$ROOT/scripts/lib/server.sh"

registry() {
  local py=$PY
  [[ -x $py ]] || py=python3
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$py" -m yoga_common.system "$1"
}

PORT=${KEYCLOAK_PORT:-$(registry keycloak-port)} || die "cannot read Keycloak's port from yoga_common/system.py"
MPORT=${KEYCLOAK_MANAGEMENT_PORT:-$((PORT + 1000))}
KDIR=${KEYCLOAK_DIR:-$ROOT/var/keycloak}
CACHE=${YOGA_CACHE:-$HOME/.cache/yoga}
DIST=$CACHE/keycloak-$VERSION
PIDFILE=$KDIR/keycloak.pid
LOG=$KDIR/keycloak.log
TIMEOUT=${KEYCLOAK_START_TIMEOUT:-180}

java_home() {
  if [[ -n ${KEYCLOAK_JAVA_HOME:-} ]]; then echo "$KEYCLOAK_JAVA_HOME"; return; fi
  local jdk version
  for jdk in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -V -r); do
    [[ -x $jdk/bin/java ]] || continue
    version=$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java.specification.version = //p')
    if [[ -n $version ]] && (( ${version%%.*} >= 21 )); then echo "${jdk%/}"; return; fi
  done
  die "Keycloak needs Java 21 or newer: none under /usr/lib/jvm (set KEYCLOAK_JAVA_HOME)"
}

cmd_fetch() {
  command -v mvn >/dev/null || die "mvn is required (scripts/kafka.sh fetch installs it)"
  command -v unzip >/dev/null || {
    [[ $EUID -eq 0 ]] || die "unzip is required"
    log "installing unzip (apt)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends unzip >/dev/null
  }
  local built="$VERSION ${BUILD_OPTIONS[*]}"
  if [[ $(cat "$DIST/.built" 2>/dev/null) == "$built" ]]; then return 0; fi
  if [[ ! -f $DIST/.unpacked ]]; then
    log "fetching Keycloak $VERSION into $DIST"
    mkdir -p "$CACHE/keycloak-download"
    mvn -q -B -Dmaven.repo.local="$CACHE/m2" "$DEP_PLUGIN:copy" \
      -Dartifact="org.keycloak:keycloak-quarkus-dist:$VERSION:zip" \
      -DoutputDirectory="$CACHE/keycloak-download" >"$CACHE/keycloak-download/mvn.log" 2>&1 ||
      { cat "$CACHE/keycloak-download/mvn.log" >&2; die "Maven could not fetch Keycloak $VERSION"; }
    rm -rf "$DIST" "$DIST.tmp"
    mkdir -p "$DIST.tmp"
    unzip -q "$CACHE/keycloak-download/keycloak-quarkus-dist-$VERSION.zip" -d "$DIST.tmp"
    mv "$DIST.tmp/keycloak-$VERSION" "$DIST"
    rm -rf "$DIST.tmp"
    touch "$DIST/.unpacked"
  fi
  log "building Keycloak $VERSION once (${BUILD_OPTIONS[*]})"
  JAVA_HOME=$(java_home) "$DIST/bin/kc.sh" build "${BUILD_OPTIONS[@]}" >"$DIST/build.log" 2>&1 ||
    { tail -n 30 "$DIST/build.log" >&2; die "kc.sh build failed"; }
  echo "$built" >"$DIST/.built"
}

pid_alive() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  # kc.sh stays the parent of Keycloak's JVM; setsid made it the leader of their group.
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kc\.sh'
}

ready() {
  curl -fsS -o /dev/null "http://127.0.0.1:$MPORT/health/ready" 2>/dev/null &&
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/realms/studio/.well-known/openid-configuration" 2>/dev/null
}

# A secret of this instance: made once (random, url-safe), kept under secrets/.
secret() {
  local file=$KDIR/secrets/$1
  if [[ ! -s $file ]]; then
    mkdir -p "$KDIR/secrets"
    chmod 700 "$KDIR/secrets"
    (umask 077; head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$file")
  fi
  cat "$file"
}

# The instance's home: the cached build, hard-linked (copied where links cannot cross file
# systems), with data/ of its own, so several instances (make run, tests) share one download.
make_home() {
  local home=$KDIR/home
  if [[ $(cat "$home/.version" 2>/dev/null) != "$VERSION" ]]; then
    rm -rf "$home"
    mkdir -p "$home"
    local part
    for part in bin conf lib providers themes; do
      cp -al "$DIST/$part" "$home/$part" 2>/dev/null || cp -a "$DIST/$part" "$home/$part"
    done
    echo "$VERSION" >"$home/.version"
  fi
  mkdir -p "$home/data/import"
  cp "$REALM_FILE" "$home/data/import/studio-realm.json"
}

cmd_start() {
  cmd_fetch
  mkdir -p "$KDIR"
  local launched=0 t0=$SECONDS
  if pid_alive; then
    log "already running (pid $(cat "$PIDFILE"))"
  else
    if port_open "$PORT" || port_open "$MPORT"; then
      die "port $PORT or $MPORT is already in use; stop it or set KEYCLOAK_PORT/KEYCLOAK_MANAGEMENT_PORT"
    fi
    make_home
    rm -f "$PIDFILE"
    if [[ -f $LOG ]]; then mv -f "$LOG" "$LOG.1"; fi
    log "starting Keycloak $VERSION on 127.0.0.1:$PORT (log: $LOG)"
    # The realm file reads these (${...} placeholders); only the first start imports it.
    # The JVM keeps the classes it loaded in an archive of the instance's (written when it
    # stops, checked and remade by the JVM when stale): a start after the first takes about
    # two thirds of the time (17 s -> 11 s here).
    KC_BOOTSTRAP_ADMIN_USERNAME=admin \
      KC_BOOTSTRAP_ADMIN_PASSWORD=$(secret bootstrap-admin) \
      YOGA_SERVICES_CLIENT_SECRET=$(secret services-client) \
      YOGA_DEMO_ADMIN_PASSWORD=$(secret demo-admin) \
      YOGA_DEMO_MEMBER_PASSWORD=$(secret demo-member) \
      JAVA_HOME=$(java_home) \
      JAVA_OPTS_KC_HEAP="-Xms64m -Xmx384m" \
      JAVA_OPTS_APPEND="-XX:+AutoCreateSharedArchive -XX:SharedArchiveFile=$KDIR/home/classes.jsa" \
      KC_RUN_IN_CONTAINER=false \
      setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
      "$KDIR/home/bin/kc.sh" start --optimized --import-realm \
      --http-enabled=true --http-host=127.0.0.1 --http-port="$PORT" \
      --http-management-port="$MPORT" --hostname-strict=false \
      </dev/null >>"$LOG" 2>&1 &
    # The session leader writes its own pid: setsid forks when its caller leads a group. Waited
    # for as long as the start may take: on a loaded machine (CI) the pid once came after the
    # 2 s waited here before, and a Keycloak coming up was taken for one that had exited.
    until [[ -s $PIDFILE ]]; do
      (( SECONDS - t0 < TIMEOUT )) || die "Keycloak's launcher wrote no pid in ${TIMEOUT}s"
      sleep 0.1
    done
    launched=1
  fi
  # One budget for the pid and readiness together.
  await_ready Keycloak ready "$((TIMEOUT - (SECONDS - t0)))" "$launched"
}

cmd_stop() { stop_server Keycloak group; }

cmd_status() { server_status; }

case ${1:-} in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) echo "http://127.0.0.1:$PORT/realms/studio" ;;
  secret) [[ -n ${2:-} ]] || die "secret NAME"; secret "$2"; echo ;;
  *) sed -n '7p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2; exit 2 ;;
esac
