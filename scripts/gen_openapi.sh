#!/usr/bin/env bash
# Generates gen/openapi/yoga.openapi.json, the OpenAPI 3 document of the JSON API the gateway
# serves, from protos/: gnostic's protoc-gen-openapi through buf (buf.gen.openapi.yaml), then
# devtools/openapi.py (YAML to JSON, and what the plugin gets wrong about this gateway).
# Committed, so the web app's build needs neither Go nor buf. `--check` generates into a
# temporary folder and fails if the committed document has drifted from protos/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BUF=${BUF:-.venv/bin/buf}
OUT=gen/openapi/yoga.openapi.json

PATH="$(scripts/tools.sh protoc-gen-openapi):$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUF" generate --template buf.gen.openapi.yaml -o "$tmp" protos
# The whole workspace with comments: the error details' schemas are made from it.
"$BUF" build --as-file-descriptor-set -o "$tmp/workspace.binpb#format=binpb"
"$PY" -m devtools.openapi "$tmp/openapi.yaml" "$tmp/workspace.binpb" "$tmp/yoga.openapi.json"

if [[ "${1:-}" == "--check" ]]; then
  if ! cmp -s "$tmp/yoga.openapi.json" "$OUT"; then
    echo "$OUT is out of date with protos/: run scripts/gen_openapi.sh" >&2
    exit 1
  fi
  echo "$OUT matches protos/"
else
  mkdir -p "$(dirname "$OUT")"
  cp "$tmp/yoga.openapi.json" "$OUT"
  echo "wrote $OUT"
fi
