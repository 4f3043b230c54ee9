#!/usr/bin/env bash
# Installs the pinned command-line tools built from Go modules into the cache and prints the
# folder that holds them: `export PATH="$(scripts/tools.sh):$PATH"`. Idempotent.
# Usage: scripts/tools.sh [TOOL ...]   (default: all of them; `make run` needs grpcurl only)
set -euo pipefail

CACHE=${YOGA_CACHE:-$HOME/.cache/yoga}
export GOBIN=$CACHE/bin GOPATH=$CACHE/go GOMODCACHE=$CACHE/gomod GOFLAGS=-mod=mod
declare -A TOOLS=(
  [grpcurl]=github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3
  [ghz]=github.com/bojand/ghz/cmd/ghz@v0.120.0
  [hey]=github.com/rakyll/hey@v0.1.5
  # gen/openapi's generator (scripts/gen_openapi.sh), a protoc plugin run by buf.
  [protoc-gen-openapi]=github.com/google/gnostic/cmd/protoc-gen-openapi@v0.7.1
  # The chaos harness's network faults (chaos/network.py): the proxy server and its CLI.
  [toxiproxy-server]=github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0
  [toxiproxy-cli]=github.com/Shopify/toxiproxy/v2/cmd/cli@v2.12.0
)
wanted=("$@")
(( ${#wanted[@]} )) || wanted=("${!TOOLS[@]}")
for name in "${wanted[@]}"; do
  [[ -n ${TOOLS[$name]:-} ]] || { echo "tools.sh: unknown tool $name (${!TOOLS[*]})" >&2; exit 2; }
  module=${TOOLS[$name]}
  marker="$GOBIN/.$name-${module##*@}"
  if [[ ! -x "$GOBIN/$name" || ! -f "$marker" ]]; then
    command -v go >/dev/null || { echo "tools.sh: Go is required to build $name" >&2; exit 1; }
    echo "tools.sh: building $name ($module), once" >&2
    go install "$module" >&2
    # A command folder not named for the tool (toxiproxy's cmd/server) is installed as `name`.
    built=${module%@*}
    built=${built##*/}
    [[ $built == "$name" ]] || mv -f "$GOBIN/$built" "$GOBIN/$name"
    touch "$marker"
  fi
done
echo "$GOBIN"
