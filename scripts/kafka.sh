#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft: broker + controller in one JVM) for development and CI.
# The broker jars come from Maven, no tarball needed.
#
# Usage: scripts/kafka.sh fetch|start|stop|status|bootstrap
#
# Env:
#   KAFKA_PORT             PLAINTEXT listener on 127.0.0.1 (default: KAFKA_PORT of the
#                          registry, yoga_common/system.py)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 (default KAFKA_PORT + 1)
#   KAFKA_ADVERTISED_PORT  the port clients are told to use (default KAFKA_PORT): a proxy's,
#                          when every client must reach the broker through it (make chaos)
#   KAFKA_DIR              runtime dir: data/, server.properties, kafka.log, kafka.pid
#                          (default <repo>/var/kafka)
#   KAFKA_VERSION          default 4.3.1
#   YOGA_CACHE             download cache (default ~/.cache/yoga): jars + Maven repo
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 60)
#   PY                     python with confluent_kafka used for the readiness probe
#                          (default <repo>/.venv/bin/python; skipped if missing) and to
#                          read the registry (any python3 when PY is missing)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${KAFKA_VERSION:-4.3.1}
# Kafka's poms bring log4j-api/core but no slf4j binding, and pin slf4j-api 1.7.36,
# so the binding is log4j-slf4j-impl (log4j-slf4j2-impl needs slf4j 2.x).
# Keep in step with the log4j-core version Kafka pulls in.
LOG4J_VERSION=2.25.4
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
PY=${PY:-$ROOT/.venv/bin/python}

die() { echo "kafka.sh: ERROR: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }
# shellcheck source=lib/server.sh
source "$ROOT/scripts/lib/server.sh"

# One fact of the registry; it imports nothing but the standard library, so any Python 3 reads it.
registry() {
  local py=$PY
  [[ -x $py ]] || py=python3
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$py" -m yoga_common.system "$1"
}

PORT=${KAFKA_PORT:-$(registry kafka-port)} || die "cannot read the broker's port from yoga_common/system.py"
CPORT=${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
APORT=${KAFKA_ADVERTISED_PORT:-$PORT}
KDIR=${KAFKA_DIR:-$ROOT/var/kafka}
CACHE=${YOGA_CACHE:-$HOME/.cache/yoga}
JARS=$CACHE/kafka-$VERSION
PIDFILE=$KDIR/kafka.pid
LOG=$KDIR/kafka.log
TIMEOUT=${KAFKA_START_TIMEOUT:-60}
JAVA_ARGS=(-Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$KDIR/log4j2.properties" -cp "$JARS/libs/*")

cmd_fetch() {
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    [[ $EUID -eq 0 ]] || die "java and mvn are required"
    log "installing a JRE and Maven (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends default-jre-headless maven
  fi
  if [[ $(cat "$JARS/.fetched" 2>/dev/null) == "$VERSION" ]]; then return 0; fi
  log "fetching Kafka $VERSION jars into $JARS"
  mkdir -p "$JARS"
  # connect-runtime (jetty, jersey, ...) is only needed by Connect-related tools.
  cat >"$JARS/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.yoga</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version>
      <exclusions><exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$JARS/libs.tmp"
  # Output to a file: Debian's mvn prints stray ANSI codes even with -q -B.
  mvn -q -B -f "$JARS/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
    "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$JARS/libs.tmp" \
    >"$JARS/mvn.log" 2>&1 || { cat "$JARS/mvn.log" >&2; die "Maven could not fetch the Kafka jars"; }
  rm -rf "$JARS/libs"
  mv "$JARS/libs.tmp" "$JARS/libs"
  echo "$VERSION" >"$JARS/.fetched"
  log "fetched $(find "$JARS/libs" -name '*.jar' | wc -l) jars"
}

pid_alive() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  # Guard against a stale pid file whose pid got reused by another process.
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'
}

# The broker answers metadata requests (not just an open port).
broker_ready() {
  if [[ -x $PY ]] && "$PY" -c 'import confluent_kafka' 2>/dev/null; then
    "$PY" - "127.0.0.1:$PORT" <<'EOF' 2>/dev/null
import sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=2)
sys.exit(0 if md.brokers else 1)
EOF
  else
    port_open "$PORT" && grep -q 'Kafka Server started' "$LOG"
  fi
}


write_config() {
  cat >"$KDIR/server.properties" <<EOF
# Generated by scripts/kafka.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$APORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
# Fewer internal partitions than the default 50: faster first consumer-group join.
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
EOF
  cat >"$KDIR/log4j2.properties" <<'EOF'
status = warn
# Else log4j stops at JVM shutdown before Kafka has logged its own shutdown.
shutdownHook = disable
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = warn
EOF
}

cmd_start() {
  cmd_fetch
  mkdir -p "$KDIR"
  local launched=0
  if pid_alive; then
    log "already running (pid $(cat "$PIDFILE"))"
  else
    if port_open "$PORT" || port_open "$CPORT"; then
      die "port $PORT or $CPORT is already in use by another process; stop it or set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
    fi
    # Fresh log per start, so the readiness check cannot match an old run's lines.
    if [[ -f $LOG ]]; then mv -f "$LOG" "$LOG.1"; fi
    write_config
    if [[ ! -f $KDIR/data/meta.properties ]]; then
      # Random KRaft cluster id: 16 random bytes, url-safe base64 without padding. It may
      # start with "-", hence --cluster-id=VALUE in one word.
      local cid
      cid=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
      log "formatting $KDIR/data (cluster id $cid)"
      java "${JAVA_ARGS[@]}" kafka.tools.StorageTool format --cluster-id="$cid" -c "$KDIR/server.properties" >>"$LOG" 2>&1 ||
        { tail -n 20 "$LOG" >&2; die "storage format failed"; }
    fi
    log "starting Kafka $VERSION on 127.0.0.1:$PORT (log: $LOG)"
    # setsid: own session, so the broker outlives this shell / CI step.
    setsid java "${JAVA_ARGS[@]}" kafka.Kafka "$KDIR/server.properties" </dev/null >>"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    launched=1
  fi
  await_ready Kafka broker_ready "$TIMEOUT" "$launched"
}

cmd_stop() { stop_server Kafka; }

cmd_status() { server_status; }

case ${1:-} in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  bootstrap) echo "127.0.0.1:$PORT" ;;
  *) sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2; exit 2 ;;
esac
