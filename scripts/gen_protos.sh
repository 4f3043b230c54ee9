#!/usr/bin/env bash
# Generates the Python code of every proto under protos/ into gen/ (committed, so a service
# starts without a build step). `--check` regenerates into a temporary folder and fails if
# gen/ has drifted from protos/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

generate() {
  local out=$1
  mkdir -p "$out"
  mapfile -t files < <(find protos -name '*.proto' | sort)
  "$PY" -m grpc_tools.protoc -I protos -I third_party/googleapis \
    --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "${files[@]}"
  # Packages, so that mypy and setuptools see regular packages.
  find "$out/yoga" -type d -exec touch {}/__init__.py \;
}

if [[ "${1:-}" == "--check" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  if ! diff -r -q "$tmp/yoga" gen/yoga; then
    echo "gen/ is out of date with protos/: run scripts/gen_protos.sh" >&2
    exit 1
  fi
  echo "generated code matches protos/"
else
  rm -rf gen/yoga
  generate gen
fi
