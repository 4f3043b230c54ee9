# The two commands that matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test venv lint protos proto-check deploy-check unit bench clean

venv:
	@scripts/bootstrap.sh

## Starts the services on this machine (SQLite under var/) and stops them on Ctrl-C.
run: venv
	@$(PY) scripts/run.py

## Every check and test, against real PostgreSQL and SQLite.
test: venv lint proto-check deploy-check
	@scripts/test.sh

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy yoga_common yogaclass_svc reservation_svc notification_svc mypage_svc \
	  devtools scripts/deploy_check.py bench

## Regenerates gen/ from protos/.
protos: venv
	scripts/gen_protos.sh
	scripts/build_descriptor.sh

proto-check: venv
	.venv/bin/buf lint
	.venv/bin/buf build -o /dev/null
	scripts/gen_protos.sh --check
	scripts/build_descriptor.sh --check

## Dockerfile (hadolint), Helm chart (lint, render every ci/*.yaml), manifests against the
## Kubernetes schemas and ../shared/k8s-crds, and the project's own deployment rules.
deploy-check: venv
	$(PY) scripts/deploy_check.py

## The seven benchmark scenarios next to their references, SQLite and PostgreSQL
## (BENCHMARKS.md); the table goes to bench/results/latest.md. A measurement, not a test.
bench: venv
	@$(PY) bench/run.py

unit: venv
	.venv/bin/pytest tests/unit -q

clean:
	rm -rf var/*.db var/*.db-* var/logs
