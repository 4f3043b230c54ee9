#!/usr/bin/env bash
# Installs the pinned Helm CLI, built from its Go module, into the cache and prints the binary's
# path: `HELM=$(scripts/helm.sh)`. Idempotent: a second run only prints the path.
# Needs Go (the module proxy serves helm.sh/helm/v3); nothing is downloaded into the repository.
set -euo pipefail

VERSION=v3.22.0
# The Kubernetes version Helm assumes without a cluster (`helm template`, `helm lint`): Helm's own
# release build stamps the minor of the client-go it is built with (v0.37 for v3.22.0).
KUBE_MINOR=37
CACHE=${YOGA_CACHE:-$HOME/.cache/yoga}
export GOBIN=$CACHE/bin GOPATH=$CACHE/go GOMODCACHE=$CACHE/gomod GOFLAGS=-mod=mod
helm=$GOBIN/helm
marker=$GOBIN/.helm-$VERSION-k1.$KUBE_MINOR

if [[ ! -x "$helm" || ! -f "$marker" ]]; then
  command -v go >/dev/null || { echo "helm.sh: Go is required to build helm $VERSION" >&2; exit 1; }
  mkdir -p "$GOBIN"
  echo "helm.sh: building helm $VERSION with go install (once; cached in $CACHE)" >&2
  # CGO off: a static binary, no C toolchain needed. Versions are stamped the way Helm's own
  # Makefile does, so `helm version` and the default `.Capabilities.KubeVersion` tell the truth.
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$KUBE_MINOR"
  done
  CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$VERSION" >&2
  rm -f "$GOBIN"/.helm-*
  touch "$marker"
fi
echo "$helm"
