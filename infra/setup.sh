#!/usr/bin/env bash
# Installs whatever volcast needs that is missing, and nothing else. Idempotent; safe to run often.
#   bash infra/setup.sh            everything: node modules, Temporal CLI, MinIO server, trainer venv
#   bash infra/setup.sh node|go|python|chromium   one part
# chromium (Debian's package, for the dashboard's browser test, driven by puppeteer-core: npm never
# downloads a browser) is installed with apt-get where it is available, else the step says how.
# Builds are cached per machine under ${VOLCAST_CACHE:-~/.cache/volcast} (never in git), so a fresh
# clone on a machine that installed once before only links them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${VOLCAST_CACHE:-$HOME/.cache/volcast}
TOOLS=$ROOT/.tools/bin

# Pinned versions. Temporal CLI: v1.5.1 is the newest tag whose go.mod has no `replace` directive
# (v1.9.1 replaces cliext, which `go install` refuses). MinIO publishes RELEASE.* tags only, which
# the module proxy does not serve, so it is pinned to the pseudo-version of its last commit.
TEMPORAL_CLI_VERSION=v1.5.1
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

step() { printf '\n==> %s\n' "$*"; }
fail() {
  printf '\nvolcast setup: step "%s" failed.\n%s\n' "$1" "$2" >&2
  exit 1
}
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || fail "$2" "$1 is not installed. $3"
}

# Content only (not paths), so every clone on this machine shares the same cached builds.
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

setup_node() {
  need_cmd node "node modules" "Install Node.js >= 20.3 (e.g. apt-get install nodejs npm) and re-run."
  need_cmd npm "node modules" "Install npm and re-run."
  local stamp=$ROOT/node_modules/.volcast-lock
  local want
  want=$(hash_of "$ROOT/package.json" "$ROOT/package-lock.json")
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
  # npm ci removes node_modules and installs exactly package-lock.json; through a link it would
  # replace the modules of whatever checkout the link points to, so a linked folder is left alone.
  if [[ -L $ROOT/node_modules ]]; then
    fail "node modules" "$ROOT/node_modules is a link (to $(readlink -f "$ROOT/node_modules")) whose modules were installed for another package-lock.json; setup does not reinstall through it. Remove the link and re-run, or install where it points."
  fi
  step "node modules (npm ci: exactly package-lock.json, which it never rewrites)"
  local t=$(date +%s)
  # onnxruntime-node's install script fetches CUDA binaries from a feed this machine cannot reach;
  # the CPU binaries ship inside the package.
  (cd "$ROOT" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error) \
    || fail "node modules" "npm ci could not install package-lock.json's packages: check that the npm registry is reachable; if it says package.json and package-lock.json are out of sync, run \`npm install\` once and commit package-lock.json."
  echo "$want" >"$stamp"
  echo "    node modules: $(elapsed $t)"
}

go_tool() { # name, module@version, binary-name
  local name=$1 module=$2 bin=$3
  local dir=$CACHE/go-bin/$name-${module##*@}
  if [[ ! -x $dir/$bin ]]; then
    need_cmd go "$name" "Install Go >= 1.24 (https://go.dev/dl) and re-run."
    step "$name ($module, go install; first build takes minutes)"
    local t=$(date +%s)
    mkdir -p "$dir.partial"
    GOBIN=$dir.partial GOFLAGS=-buildvcs=false go install "$module" \
      || fail "$name" "go install $module failed; check that the Go module proxy is reachable (go env GOPROXY) and Go is >= 1.24."
    rm -rf "$dir" && mv "$dir.partial" "$dir"
    echo "    $name: $(elapsed $t)"
  fi
  mkdir -p "$TOOLS"
  ln -sfn "$dir/$bin" "$TOOLS/$bin"
}

setup_go() {
  go_tool temporal "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" temporal
  go_tool minio "github.com/minio/minio@$MINIO_VERSION" minio
}

setup_python() {
  need_cmd python3 "trainer venv" "Install Python >= 3.11 and re-run."
  local want
  want=$(hash_of "$ROOT/requirements.txt")
  local venv=$CACHE/venv-$want
  if [[ ! -f $venv/.complete ]]; then
    step "trainer venv (pip install -r requirements.txt; torch is large)"
    local t=$(date +%s)
    rm -rf "$venv"
    python3 -m venv "$venv" || {
      command -v apt-get >/dev/null && apt-get install -y -q python3-venv >/dev/null && python3 -m venv "$venv"
    } || fail "trainer venv" "python3 -m venv failed; install the venv module (apt-get install python3-venv)."
    "$venv/bin/pip" install -q --upgrade pip \
      && "$venv/bin/pip" install -q -r "$ROOT/requirements.txt" \
      || fail "trainer venv" "pip could not install requirements.txt; check that PyPI is reachable. The partial venv at $venv is removed on the next run."
    touch "$venv/.complete"
    echo "    trainer venv: $(elapsed $t)"
  fi
  ln -sfn "$venv" "$ROOT/.venv"
}

# The dashboard's browser test (test/dashboard.test.ts) drives Debian's chromium with puppeteer-core.
# Not fatal when it cannot be installed: everything else works, and that test fails saying so.
setup_chromium() {
  local found
  found=${VOLCAST_CHROMIUM:-}
  [[ -n $found && -x $found ]] || found=$(command -v chromium || command -v chromium-browser || true)
  if [[ -n $found ]]; then return; fi
  step "chromium (apt-get install chromium; for the dashboard's browser test)"
  local t=$(date +%s) sudo=""
  [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) -eq 0 || -n $sudo ]] \
    && { $sudo apt-get install -y -q chromium >/dev/null 2>&1 \
      || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q chromium >/dev/null 2>&1; }; }; then
    echo "    chromium: $(elapsed $t)"
  else
    printf '    chromium is not installed and could not be installed here (needs apt-get as root or passwordless sudo).\n' >&2
    printf '    Install a Chromium build yourself (Debian/Ubuntu: apt-get install chromium) and put it on PATH,\n' >&2
    printf '    or point VOLCAST_CHROMIUM at its binary. Only the dashboard browser test needs it.\n' >&2
  fi
}

what=${1:-all}
case $what in
  node) setup_node ;;
  go) setup_go ;;
  python) setup_python ;;
  chromium) setup_chromium ;;
  all) setup_node; setup_go; setup_python; setup_chromium ;;
  *) echo "usage: infra/setup.sh [all|node|go|python|chromium]" >&2; exit 2 ;;
esac
