#!/usr/bin/env bash
# The peer systems the interop tests (tests/interop) run against, each in a virtualenv of its
# own so their pins never touch ours. `make test` runs this; `make demo` does not need them.
set -euo pipefail
PYTHON=${PYTHON:-python3}
# Arize Phoenix for the interop tests (tests/interop), in a virtualenv of its own so its pins
# never touch ours: ~2 min and ~850 MB. PHOENIX_VENV= (empty) skips it.
PHOENIX_VENV=${PHOENIX_VENV-.venv-phoenix}
if [ -n "$PHOENIX_VENV" ] && [ ! -x "$PHOENIX_VENV/bin/phoenix" ]; then
    "$PYTHON" -m venv "$PHOENIX_VENV"
    "$PHOENIX_VENV/bin/python" -m pip install --quiet --upgrade pip
    "$PHOENIX_VENV/bin/python" -m pip install --quiet -r requirements/phoenix.txt
fi
# An MLflow tracking server for the interop tests, likewise (.venv-mlflow): mlflow-skinny and
# the server's own needs, ~1.5 min and ~360 MB. MLFLOW_VENV= (empty) skips it.
MLFLOW_VENV=${MLFLOW_VENV-.venv-mlflow}
if [ -n "$MLFLOW_VENV" ] && [ ! -x "$MLFLOW_VENV/bin/mlflow" ]; then
    "$PYTHON" -m venv "$MLFLOW_VENV"
    "$MLFLOW_VENV/bin/python" -m pip install --quiet --upgrade pip
    "$MLFLOW_VENV/bin/python" -m pip install --quiet -r requirements/mlflow.txt
fi
