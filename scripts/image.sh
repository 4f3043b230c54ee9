#!/usr/bin/env bash
# Builds the services' image (the Dockerfile's last stage, its default target) with buildah, and
# prints its id. `make image` runs it; so does the container test (tests/containers), once a session.
#
# Usage: scripts/image.sh [build|tools|base|info]
#   build  (default) tools, then the base (see YOGA_IMAGE_BASE), then `buildah bud`; prints the
#          image id and writes it to var/image/iid. Tags: localhost/yoga-studio:<chart appVersion>.
#   tools  installs Debian's podman, buildah, runc and mmdebstrap (pinned; apt-get update only
#          when one is missing or at another version).
#   base   the base image localhost/yoga-base:bookworm, made from Debian's packages with
#          mmdebstrap once (the tar is cached in $YOGA_CACHE/images), imported when missing.
#   info   the image's id, size and base, one `key: value` a line.
#
# Env:
#   YOGA_IMAGE_BASE  debian: the base made here from Debian's packages (no container registry
#                    needed); registry: the Dockerfile's pinned python slim image, pulled;
#                    auto (default): registry when that image is already in local storage,
#                    else debian. Both are Debian bookworm with CPython 3.11.
#   YOGA_IMAGE_BASE_MAX_AGE_DAYS  a cached base older than this (default 7) is made again.
#   YOGA_CACHE       the download cache (default ~/.cache/yoga); nothing goes into the repository.
#
# Podman and buildah read containers/containers.conf (CONTAINERS_CONF): runc, and ulimits
# within this machine's hard limits. Needs root (apt-get, the image store under /var/lib).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() { echo "image.sh: ERROR: $*" >&2; exit 1; }
log() { echo "image.sh: $*" >&2; }

export CONTAINERS_CONF=$ROOT/containers/containers.conf
CACHE=${YOGA_CACHE:-$HOME/.cache/yoga}
IMAGES=$CACHE/images
# Debian bookworm's versions, pinned: a security update that replaces one changes this line.
PACKAGES=(
  podman=4.3.1+ds1-8+deb12u1+b3
  buildah=1.28.2+ds1-3+deb12u1+b3
  runc=1.1.5+ds1-1+deb12u1
  mmdebstrap=1.3.5-7
)
SUITE=bookworm
BASE=localhost/yoga-base:$SUITE
# What the base holds: CPython 3.11 with venv (the Dockerfile makes /opt/venv) and the CA
# certificates; `passwd` for the Dockerfile's useradd. Nothing else: no compiler, no shell
# tools beyond Debian's essential set.
BASE_PACKAGES=python3.11,python3.11-venv,ca-certificates,passwd
BASE_MAX_AGE_DAYS=${YOGA_IMAGE_BASE_MAX_AGE_DAYS:-7}
NAME=localhost/yoga-studio
TAG=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' helm/yoga-studio/Chart.yaml)
[[ -n $TAG ]] || die "no appVersion in helm/yoga-studio/Chart.yaml"
# The Dockerfile's default base, the one a machine with registry access builds on.
PINNED_PYTHON=$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)
# Fully qualified: podman and buildah refuse an ambiguous short name without a terminal to ask.
[[ $PINNED_PYTHON == */* ]] || PINNED_PYTHON=docker.io/library/$PINNED_PYTHON

cmd_tools() {
  local wanted=() spec pkg version have
  for spec in "${PACKAGES[@]}"; do
    pkg=${spec%%=*} version=${spec#*=}
    have=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$pkg" 2>/dev/null || true)
    [[ $have == "installed $version" ]] || wanted+=("$spec")
  done
  if (( ${#wanted[@]} )); then
    [[ $EUID -eq 0 ]] || die "${wanted[*]} missing and not root: apt-get install ${wanted[*]}"
    log "installing ${wanted[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    # Another job may hold dpkg's lock (a concurrent install): wait for it.
    local apt=(apt-get -q -o DPkg::Lock::Timeout=600)
    # Recommends stay out: rootless helpers (slirp4netns, fuse-overlayfs, uidmap) are not used
    # as root; containers here run on the host's network, so no CNI plugins either.
    "${apt[@]}" install -y --no-install-recommends --allow-downgrades "${wanted[@]}" \
      >/dev/null 2>&1 \
      || { "${apt[@]}" update >/dev/null \
        && "${apt[@]}" install -y --no-install-recommends --allow-downgrades "${wanted[@]}" \
          >/dev/null; } \
      || die "apt-get install ${wanted[*]} failed"
  fi
  command -v podman >/dev/null && command -v buildah >/dev/null && command -v mmdebstrap >/dev/null \
    || die "podman, buildah or mmdebstrap missing after the install"
}

# The tar's name says how it was made: another package list or suite makes another tar.
base_tar() {
  local key
  key=$(printf '%s\n' "$SUITE" "$BASE_PACKAGES" "$(declare -f make_base_tar)" | sha256sum | cut -c1-12)
  echo "$IMAGES/yoga-base-$SUITE-$key.tar"
}

make_base_tar() {
  local out=$1
  # No mirror named: mmdebstrap takes Debian's default one and, for a stable suite, adds its
  # -updates and -security suites, so the base has every security fix published today.
  # minbase: Essential packages + apt. Documentation, manuals and locales are left out as in
  # Debian's slim images (copyright files stay). `python` names python3.11, as in the python
  # slim image the Dockerfile expects.
  mmdebstrap --variant=minbase --format=tar --include="$BASE_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook='ln -s python3.11 "$1/usr/bin/python"' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$out"
}

cmd_base() {
  local tar
  tar=$(base_tar)
  # A base older than a week is made again: it then has the security updates published since.
  if [[ -s $tar ]] && [[ -n $(find "$tar" -mtime +"$BASE_MAX_AGE_DAYS") ]]; then
    log "the base $tar is older than $BASE_MAX_AGE_DAYS days: making it again"
    rm -f "$tar"
  fi
  if [[ ! -s $tar ]]; then
    mkdir -p "$IMAGES"
    log "making the base from Debian's $SUITE packages (once; cached as $tar)"
    local t0=$SECONDS
    make_base_tar "$tar.part" >"$IMAGES/mmdebstrap.log" 2>&1 \
      || { tail -n 30 "$IMAGES/mmdebstrap.log" >&2; die "mmdebstrap failed (see $IMAGES/mmdebstrap.log)"; }
    mv "$tar.part" "$tar"
    log "base made in $((SECONDS - t0))s"
  fi
  # The imported image remembers which tar it came from (name and time made); a new tar is
  # imported again.
  local source made
  made="$(basename "$tar")@$(stat -c %Y "$tar")"
  source=$(podman image inspect --format '{{index .Labels "org.yoga.base-tar"}}' "$BASE" 2>/dev/null || true)
  if [[ $source != "$made" ]]; then
    log "importing $tar as $BASE"
    podman import --change "LABEL org.yoga.base-tar=$made" \
      --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$tar" "$BASE" >/dev/null 2>&1 \
      || die "podman import $tar failed"
  fi
}

choose_base() {
  case ${YOGA_IMAGE_BASE:-auto} in
    debian) echo debian ;;
    registry) echo registry ;;
    auto) if podman image exists "$PINNED_PYTHON"; then echo registry; else echo debian; fi ;;
    *) die "YOGA_IMAGE_BASE must be debian, registry or auto, not ${YOGA_IMAGE_BASE}" ;;
  esac
}

cmd_build() {
  cmd_tools
  local base args=() t0=$SECONDS
  base=$(choose_base)
  if [[ $base == debian ]]; then
    cmd_base
    args+=(--build-arg "PYTHON_IMAGE=$BASE")
  else
    args+=(--build-arg "PYTHON_IMAGE=$PINNED_PYTHON")
  fi
  mkdir -p var/image
  log "building $NAME:$TAG on the $base base (log: var/image/build.log)"
  # --layers: unchanged steps come from the cache (the pip install is redone only when
  # pyproject.toml changes). The host's CA bundle is mounted for the RUN steps only (pip
  # reaches PyPI through this machine's TLS setup); it is not in the image. Host network: no
  # CNI plugins are installed. Only the stages the target needs are built (the web stages
  # need node and nginx images, which are pulled from a registry).
  buildah bud --layers --network host --skip-unused-stages=true \
    -v /etc/ssl/certs:/etc/ssl/certs:ro \
    "${args[@]}" --iidfile var/image/iid -t "$NAME:$TAG" -f Dockerfile . \
    >var/image/build.log 2>&1 \
    || { tail -n 40 var/image/build.log >&2; die "buildah bud failed (see var/image/build.log)"; }
  echo "$base" >var/image/base
  log "built $NAME:$TAG in $((SECONDS - t0))s, $(size_mb "$(cat var/image/iid)") MB"
  cat var/image/iid
}

size_mb() {
  podman image inspect --format '{{.Size}}' "$1" | awk '{printf "%d", $1 / 1000000}'
}

cmd_info() {
  [[ -s var/image/iid ]] || die "no image built yet: scripts/image.sh build"
  local iid
  iid=$(cat var/image/iid)
  echo "id: $iid"
  echo "name: $NAME:$TAG"
  echo "size_mb: $(size_mb "$iid")"
  echo "base: $(cat var/image/base 2>/dev/null || echo unknown)"
}

case ${1:-build} in
  build) cmd_build ;;
  tools) cmd_tools ;;
  base) cmd_tools; cmd_base ;;
  info) cmd_info ;;
  *) die "usage: scripts/image.sh [build|tools|base|info]" ;;
esac
