#!/usr/bin/env bash
# The web app's tooling (web/: Vue 3, Vite, TypeScript; served by nginx behind the gateway).
#
# Usage: scripts/web.sh deps|build|test|dist
#   deps    installs Debian's nginx-light (the static server of `make run` and the tests),
#           chromium (the browser tests) and fonts-noto-cjk (Korean text in that browser) when
#           one is missing: apt, as root. Idempotent.
#   build   brings web/dist up to date and prints its absolute path (the only line on stdout):
#           `npm ci` when web/package.json or web/package-lock.json changed since the last
#           install (or web/node_modules is gone), `npm run build` when any input of the build
#           changed since the last build (or web/dist/index.html is gone), nothing otherwise.
#           The inputs: every file under web/ that git does not ignore (node_modules, dist and
#           generated files are ignored), and gen/openapi/ (the API's types come from it). Their
#           content hash is the stamp. npm's output goes to var/web-build/npm.log. While
#           web/package.json does not exist (the app is not there yet) it says so on stderr,
#           prints nothing and succeeds.
#   test    builds (as above), then runs the app's Vitest tests (`npm test`).
#   dist    prints web/dist's absolute path if it holds a build (else fails); builds nothing.
#
# Env:
#   YOGA_CACHE      downloads cache (default ~/.cache/yoga): npm's cache is $YOGA_CACHE/npm,
#                   outside the repository
#   YOGA_WEB_DIR    the app's folder (default <repo>/web; the tests point it at a fixture)
#   YOGA_WEB_STATE  where the stamps, the lock and npm's log go (default <repo>/var/web-build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEB=${YOGA_WEB_DIR:-$ROOT/web}
STATE=${YOGA_WEB_STATE:-$ROOT/var/web-build}
# The API's OpenAPI document, where the app's `gen:api` script reads it (../gen/openapi).
OPENAPI=$WEB/../gen/openapi
export npm_config_cache=${npm_config_cache:-${YOGA_CACHE:-$HOME/.cache/yoga}/npm}
# No questions, no advertising, no report sent anywhere.
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

die() { echo "web.sh: ERROR: $*" >&2; exit 1; }
log() { echo "web.sh: $*" >&2; }

cmd_deps() {
  local missing=()
  [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # The app's first language is Korean: without a font that has Hangul, the browser tests'
  # pages (and their screenshots) show empty boxes. fc-list comes with chromium's fontconfig.
  fc-list :lang=ko 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
  if (( ${#missing[@]} == 0 )); then
    log "nginx, chromium and a Korean font are installed"
    return
  fi
  [[ $EUID -eq 0 ]] || die "${missing[*]} missing and not root: apt-get install ${missing[*]}"
  log "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  # The package would start nginx as a system service on port 80; the stack runs its own
  # (devtools/nginx.py). policy-rc.d answering 101 ("not allowed") is Debian's way to say so,
  # only while we install, and only if the machine has no policy of its own.
  local policy=/usr/sbin/policy-rc.d ours=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    ours=1
  fi
  local status=0
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } || status=$?
  if (( ours )); then rm -f "$policy"; fi
  (( status == 0 )) || die "apt-get install ${missing[*]} failed"
  [[ -x /usr/sbin/nginx ]] || die "no /usr/sbin/nginx after installing nginx-light"
  command -v chromium >/dev/null 2>&1 || die "no chromium after installing it"
  fc-list :lang=ko | grep -q . || die "no font with Korean after installing fonts-noto-cjk"
}

# The content hash of the files the build reads, one line: git's view of the app folder
# (tracked files and new ones, not the ignored: node_modules, dist, generated types), or every
# file but node_modules and dist outside a git checkout; and gen/openapi/ beside the app.
inputs_hash() {
  {
    if git -C "$WEB" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      # node_modules and dist are never inputs, even where no .gitignore says so.
      (cd "$WEB" && git ls-files -z --cached --others --exclude-standard -- . \
        ':(exclude)node_modules' ':(exclude)dist')
    else
      (cd "$WEB" && find . \( -name node_modules -o -name dist \) -prune -o -type f -print0)
    fi | LC_ALL=C sort -z | while IFS= read -r -d '' file; do
      # A tracked file deleted in the working tree is listed but gone: it counts as gone.
      if [[ -f $WEB/$file ]]; then printf '%s\0' "web/$file"; sha256sum <"$WEB/$file"; fi
    done
    if [[ -d $OPENAPI ]]; then
      find "$OPENAPI" -type f -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' file; do
        printf '%s\0' "gen/openapi/${file#"$OPENAPI"/}"
        sha256sum <"$file"
      done
    fi
  } | sha256sum | cut -d' ' -f1
}

lock_hash() {
  cat "$WEB/package.json" "$WEB/package-lock.json" | sha256sum | cut -d' ' -f1
}

# run_npm WHAT ARGS...: npm in the app's folder, its output appended to the log; on failure the
# log's end and a clear error.
run_npm() {
  local what=$1
  shift
  log "$what ..."
  if ! (cd "$WEB" && echo "== npm $* ($(date -Is))" && npm "$@") >>"$STATE/npm.log" 2>&1; then
    tail -n 40 "$STATE/npm.log" >&2
    die "npm $* failed (see $STATE/npm.log)"
  fi
}

cmd_build() {
  if [[ ! -f $WEB/package.json ]]; then
    log "no web app yet ($WEB/package.json is missing): nothing to build"
    return
  fi
  command -v npm >/dev/null 2>&1 || die "npm is missing: the web app needs Node.js 20 (node >= 20.19) and npm"
  [[ -f $WEB/package-lock.json ]] || die "$WEB/package-lock.json is missing: npm ci needs the lockfile"
  mkdir -p "$STATE"
  # One build at a time (make run and a test, or two tests, may ask together).
  exec 9>"$STATE/lock"
  flock 9
  local installed=$STATE/installed.sha256 built=$STATE/built.sha256
  if [[ ! -d $WEB/node_modules || $(cat "$installed" 2>/dev/null) != "$(lock_hash)" ]]; then
    rm -f "$installed" "$built"
    run_npm "npm ci (the lockfile changed)" ci --prefer-offline --no-audit --no-fund
    lock_hash >"$installed"
  fi
  local sources
  sources=$(inputs_hash)
  if [[ ! -f $WEB/dist/index.html || $(cat "$built" 2>/dev/null) != "$sources" ]]; then
    rm -f "$built"
    run_npm "npm run build (the app's sources changed)" run build
    [[ -f $WEB/dist/index.html ]] || die "npm run build made no $WEB/dist/index.html"
    # Hashed after the build: a file the build writes that git does not ignore is counted as
    # the build left it, so the next run does not build again for it.
    inputs_hash >"$built"
  else
    log "web/dist is up to date"
  fi
  (cd "$WEB/dist" && pwd)
}

# The app's unit and component tests (Vitest, jsdom), on the installed node_modules.
cmd_test() {
  cmd_build >/dev/null
  (cd "$WEB" && npm test --silent)
}

cmd_dist() {
  [[ -f $WEB/dist/index.html ]] || die "$WEB/dist holds no build: run scripts/web.sh build"
  (cd "$WEB/dist" && pwd)
}

case "${1:-}" in
  deps) cmd_deps ;;
  build) cmd_build ;;
  dist) cmd_dist ;;
  test) cmd_test ;;
  *) echo "usage: scripts/web.sh deps|build|test|dist" >&2; exit 2 ;;
esac
