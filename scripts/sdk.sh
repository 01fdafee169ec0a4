#!/usr/bin/env bash
# Generates the client SDKs from the committed OpenAPI document (openapi/openapi.json):
#   sdk/typescript  with @hey-api/openapi-ts (fetch client, SDK functions, types)
#   sdk/python      with openapi-python-client (package `upload_coordinator_client`)
# The generators are pinned in sdk-tools/ (package-lock.json, requirements.txt) and installed
# from there when missing or changed. sdk/ is rebuilt from scratch on every run, so running this
# twice gives the same tree. Only Node.js and Python are needed: no Java, no Docker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOLS=sdk-tools
SPEC=openapi/openapi.json

fail() {
  echo "sdk: $*" >&2
  exit 1
}

command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  fail "node and npm are needed: run scripts/install-deps.sh (make deps), then make sdk again"
python3 -m pip --version >/dev/null 2>&1 ||
  fail "python3 with pip is needed: run scripts/install-deps.sh (make deps), then make sdk again"
[[ -f $SPEC ]] || fail "$SPEC is missing"

# npm ci wipes and reinstalls node_modules, so run it only when the lockfile changed since.
install_ts_generator() {
  local stamp=$TOOLS/node_modules/.sdk-tools-lock.json
  cmp -s "$TOOLS/package-lock.json" "$stamp" 2>/dev/null && return 0
  echo "sdk: installing the TypeScript generator (npm ci in $TOOLS)" >&2
  (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$TOOLS/package-lock.json" "$stamp"
}

# Succeeds when every `name==version` pin of requirements.txt is installed at that version.
python_pins_installed() {
  python3 - "$TOOLS/requirements.txt" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, pinned = line.split("==")
    try:
        if version(name) != pinned:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
}

install_python_generator() {
  python_pins_installed && return 0
  echo "sdk: installing the Python generator ($TOOLS/requirements.txt)" >&2
  local -a pip=(python3 -m pip install --quiet --disable-pip-version-check -r "$TOOLS/requirements.txt")
  # Debian's own python refuses system-wide pip installs (PEP 668) unless told otherwise.
  "${pip[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages
}

generate_typescript() {
  (cd "$TOOLS" && npx --no-install openapi-ts --file openapi-ts.config.mjs)
}

generate_python() {
  # openapi-python-client formats its output with ruff, which pip puts in python's script folder
  # (not always on PATH, e.g. under pyenv); without its cache, reruns give identical trees.
  local scripts
  scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  rm -rf sdk/python
  PATH=$scripts:$PATH RUFF_NO_CACHE=true python3 -m openapi_python_client generate \
    --path "$SPEC" \
    --config "$TOOLS/openapi-python-client.yaml" \
    --output-path sdk/python
}

started=$(date +%s%N)
install_ts_generator
install_python_generator
mkdir -p sdk
generate_typescript
generate_python
# What the SDKs were generated from, so a test can tell they are stale.
sha256sum "$SPEC" | cut -d' ' -f1 >sdk/.openapi.sha256
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
echo "sdk: generated sdk/typescript and sdk/python from $SPEC in $((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100)) s" >&2
