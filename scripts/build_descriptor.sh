#!/usr/bin/env bash
# Builds envoy/yoga.pb, the descriptor set the Envoy gateway transcodes JSON with: every file of
# the buf workspace (protos/ and third_party/googleapis) with its imports, so google.rpc error
# details (ErrorInfo, BadRequest) render as JSON. Committed, so the gateway starts without a
# build step. `--check` rebuilds into a temporary file and fails if envoy/yoga.pb has drifted
# from protos/ (buf's output is byte-stable, so a byte comparison is enough).
set -euo pipefail
cd "$(dirname "$0")/.."
BUF=${BUF:-.venv/bin/buf}
OUT=envoy/yoga.pb

build() {
  # Binary FileDescriptorSet (not a buf image), imports included (buf's default); no source
  # info: Envoy does not need comments, and a comment edit should not change the descriptor.
  "$BUF" build --as-file-descriptor-set --exclude-source-info -o "$1#format=binpb"
}

if [[ "${1:-}" == "--check" ]]; then
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  build "$tmp"
  if ! cmp -s "$tmp" "$OUT"; then
    echo "$OUT is out of date with protos/: run scripts/build_descriptor.sh" >&2
    exit 1
  fi
  echo "$OUT matches protos/"
else
  build "$OUT"
  echo "wrote $OUT"
fi
