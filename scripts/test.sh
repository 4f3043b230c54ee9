#!/usr/bin/env bash
# Runs the unit and integration tests against real parts: PostgreSQL (started here, on a
# private port) and SQLite. A part that cannot start fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/postgres.sh start
trap 'scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
YOGA_TEST_PG_URL=$(scripts/postgres.sh url postgres)
export YOGA_TEST_PG_URL

.venv/bin/pytest tests -q -p no:cacheprovider "$@"
