#!/usr/bin/env bash
# Runs the unit and integration tests against real parts: PostgreSQL and an Apache Kafka
# broker (both started here, on private ports), SQLite and an SMTP server (started by the
# tests). A part that cannot start fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

stop_parts() {
  scripts/kafka.sh stop >/dev/null 2>&1 || true
  scripts/postgres.sh stop >/dev/null 2>&1 || true
}
trap stop_parts EXIT
scripts/postgres.sh start
scripts/kafka.sh start
YOGA_TEST_PG_URL=$(scripts/postgres.sh url postgres)
YOGA_TEST_KAFKA=$(scripts/kafka.sh bootstrap)
export YOGA_TEST_PG_URL YOGA_TEST_KAFKA

# Arguments go to pytest; the whole of tests/ unless they start with a path under it.
if [[ ${1:-} == tests* ]]; then targets=(); else targets=(tests); fi
.venv/bin/pytest "${targets[@]}" -q -p no:cacheprovider "$@"
