#!/usr/bin/env bash
# kubemu's two commands, for a fresh machine with Python 3.11:
#   ./dev.sh up [kubemu up flags]   install into .venv, start a local cluster, run it until Ctrl-C
#   ./dev.sh test [pytest args]     install the test tools too, then lint, type-check and run every test
# Anything else is passed to the kubemu CLI inside the venv: ./dev.sh get pods
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
VENV="${KUBEMU_VENV:-.venv}"
PY="${PYTHON:-python3}"

install() {  # $1: extras; reinstalls only when pyproject.toml changed
  local extras="$1" stamp="$VENV/.kubemu-installed-$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[$extras]"
    touch "$stamp"
  fi
}

cmd="${1:-help}"
case "$cmd" in
  up)
    shift
    install redis
    exec "$VENV/bin/kubemu" up "$@"
    ;;
  test)
    shift
    install redis,test
    "$VENV/bin/ruff" check .
    "$VENV/bin/mypy"
    "$VENV/bin/lint-imports"
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  help|-h|--help)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    install redis
    exec "$VENV/bin/kubemu" "$@"
    ;;
esac
