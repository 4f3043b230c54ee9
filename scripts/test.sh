#!/usr/bin/env bash
# Runs the unit and integration tests against real parts: PostgreSQL, an Apache Kafka broker
# and Keycloak (all started here, on private ports), SQLite, an SMTP server and nginx (started by
# the tests). A part that cannot start fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# The suite's identity provider has ports and data of its own: `make run` (the README test
# starts one) keeps the registry's.
export KEYCLOAK_PORT=${KEYCLOAK_PORT:-18180} KEYCLOAK_DIR=${KEYCLOAK_DIR:-$PWD/var/keycloak-test}

stop_parts() {
  scripts/keycloak.sh stop >/dev/null 2>&1 || true
  scripts/kafka.sh stop >/dev/null 2>&1 || true
  scripts/postgres.sh stop >/dev/null 2>&1 || true
}
trap stop_parts EXIT
# Every run imports the committed realm afresh (an earlier run's realm, its accounts and its
# keys would otherwise stay); the instance's secrets stay. Keycloak takes longest: it starts
# beside the others.
scripts/keycloak.sh stop >/dev/null 2>&1 || true
rm -rf "$KEYCLOAK_DIR/home/data"
scripts/keycloak.sh start &
keycloak=$!
# The web app's static server and the browser tests' browser (Debian's nginx-light, chromium),
# then the app itself, built once here when its sources changed (the stacks serve web/dist).
scripts/web.sh deps
scripts/web.sh build >/dev/null
scripts/postgres.sh start
scripts/kafka.sh start
wait "$keycloak" || { echo "test.sh: Keycloak did not start" >&2; exit 1; }
YOGA_TEST_PG_URL=$(scripts/postgres.sh url postgres)
YOGA_TEST_KAFKA=$(scripts/kafka.sh bootstrap)
YOGA_TEST_KEYCLOAK=$(scripts/keycloak.sh url)
export YOGA_TEST_PG_URL YOGA_TEST_KAFKA YOGA_TEST_KEYCLOAK

# Arguments go to pytest; the whole of tests/ unless they start with a path under it.
if [[ ${1:-} == tests* ]]; then targets=(); else targets=(tests); fi
# The slowest tests are listed at the end, so a run that grows shows where.
.venv/bin/pytest "${targets[@]}" -q -p no:cacheprovider --durations=15 "$@"
