#!/usr/bin/env bash
# Create the virtualenv and install the package with everything the demo and the tests use.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[dev,lab]"
