#!/usr/bin/env bash
# Install the real Segment SDK clients used by the integration tests:
#   Python: requirements.txt into tests/clients/.pydeps (pip --target, no venv needed)
#   Node:   package-lock.json into tests/clients/node_modules (npm ci)
# Re-running is cheap: each half is skipped when its pinned input is unchanged.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
stamp_py=".pydeps/.requirements.sha256"
want_py="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ ! -f "$stamp_py" ] || [ "$(cat "$stamp_py")" != "$want_py" ]; then
  rm -rf .pydeps
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
    --target .pydeps -r requirements.txt
  echo "$want_py" > "$stamp_py"
fi

stamp_js="node_modules/.package-lock.sha256"
want_js="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp_js" ] || [ "$(cat "$stamp_js")" != "$want_js" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want_js" > "$stamp_js"
fi
