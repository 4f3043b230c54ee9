# The two commands that matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test image venv lint protos proto-check deploy-check unit bench bench-ab bench-lists growth outages race chaos screenshots clean

venv:
	@scripts/bootstrap.sh

## Starts the services on this machine (SQLite under var/) and stops them on Ctrl-C.
run: venv
	@$(PY) scripts/run.py

## Every check and test, against real PostgreSQL and SQLite.
test: venv lint proto-check deploy-check
	@scripts/test.sh

## The services' image, built with buildah (scripts/image.sh): Debian's podman, buildah, runc
## and mmdebstrap installed when missing; the base made from Debian bookworm's packages once
## (cached in ~/.cache/yoga/images), or the Dockerfile's pinned python image where a registry
## serves it (YOGA_IMAGE_BASE=registry). `make test` builds it too, for the container test.
image:
	@scripts/image.sh build

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy yoga_common yogaclass_svc reservation_svc notification_svc mypage_svc \
	  devtools bench chaos

## Regenerates gen/ (the Python code and the OpenAPI document) and envoy/yoga.pb from protos/.
protos: venv
	scripts/gen_protos.sh
	scripts/build_descriptor.sh
	scripts/gen_openapi.sh

## Lint, build, `buf breaking`, and the files made from protos/ (gen/ with the OpenAPI document,
## envoy/yoga.pb and the generated blocks of envoy/envoy.yaml.tmpl) not drifted from them.
## `buf breaking` compares the working tree (uncommitted changes included) with the last commit
## of main this tree builds on: on a branch, where it forked from main (merge-base), so main's
## newer commits never count as "removed"; on main itself (CI's fresh clone of main, or a
## developer on main), where merge-base is HEAD, with HEAD~1, the previous landed commit, so a
## breaking change fails CI on the commit that brings it. `origin/main` stands in when no local
## main exists; with no history at all (a depth-1 clone), HEAD (uncommitted changes only).
## The git input is the common git directory, so a `git worktree` (where .git is a file) works.
proto-check: venv
	.venv/bin/buf lint
	.venv/bin/buf build -o /dev/null
	@head=$$(git rev-parse HEAD); \
	base=$$(git merge-base HEAD main 2>/dev/null || git merge-base HEAD origin/main 2>/dev/null || echo $$head); \
	if [ "$$base" = "$$head" ]; then base=$$(git rev-parse -q --verify 'HEAD~1^{commit}' || echo $$head); fi; \
	echo ".venv/bin/buf breaking --against <git>#ref=$$base"; \
	.venv/bin/buf breaking --against "$$(git rev-parse --path-format=absolute --git-common-dir)#ref=$$base"
	scripts/gen_protos.sh --check
	scripts/build_descriptor.sh --check
	scripts/gen_openapi.sh --check
	$(PY) -m devtools.gateway_config --check-template

## Dockerfile (hadolint), Helm chart (lint, render every ci/*.yaml), manifests against the
## Kubernetes schemas and ../shared/k8s-crds, and the project's own deployment rules.
deploy-check: venv
	$(PY) -m devtools.deploy_check

## The seven benchmark scenarios next to their references, SQLite and PostgreSQL
## (BENCHMARKS.md); the table goes to bench/results/latest.md. A measurement, not a test.
bench: venv
	@$(PY) bench/run.py

## This tree's booking throughput and GetClass rate next to an earlier commit's, in one run:
## make bench-ab BEFORE=<git ref>; the table goes to bench/results/ab.md. A measurement.
bench-ab: venv
	@$(PY) bench/ab.py --before "$(BEFORE)"

## The broker stopped and started 10 times during bookings, on both databases, under CPU
## load (`make test` does it twice): every consumer catches up within 60 s each time.
outages: venv
	@YOGA_TEST_OUTAGES=10 scripts/test.sh tests/integration/test_outages.py -s

## Jepsen-style: a mixed workload while a seeded nemesis kills services, stops the broker,
## restarts PostgreSQL and cuts links (Toxiproxy); then a checker reads every database and topic.
## 5 seeds x 2 databases, 3 minutes each (`make test` runs a short one per database). Options:
## make chaos CHAOS_ARGS="--seed 7 --runs 1 --seconds 60 --backends postgres" (replays seed 7).
chaos: venv
	@nice -n 10 $(PY) chaos/run.py $(CHAOS_ARGS)

## The last-seat and waitlist race 20 times on each database (`make test` runs it 5 times).
race: venv
	@YOGA_TEST_RACE_RUNS=20 scripts/test.sh tests/integration/test_race.py

## The browser tests (tests/e2e), their screenshots of every page (desktop and phone, Korean
## and English) written to docs/screenshots/, the README's pictures, instead of var/screenshots/.
screenshots: venv
	@YOGA_SCREENSHOTS=docs scripts/test.sh tests/e2e

## What 10,000 bookings leave on disk, before and after the retention job (SQLite, as
## `make run`); the table goes to bench/results/growth.md. A measurement.
growth: venv
	@$(PY) bench/growth.py

## Every list call at size (100,000 classes, a member with 5,000 reservations) through gRPC,
## p50/p99 on SQLite and PostgreSQL; the table goes to bench/results/lists.md. A measurement.
bench-lists: venv
	@$(PY) bench/lists.py

unit: venv
	.venv/bin/pytest tests/unit -q

clean:
	rm -rf var/*.db var/*.db-* var/logs
