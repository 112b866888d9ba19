# Everything bootstraps from a machine that has only Python 3.11, pip and Debian's apt.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lab lint bench system-deps peers clean

$(STAMP): pyproject.toml scripts/install.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/install.sh
	touch $(STAMP)

## make demo: install, then run the main job (sample data, real local-model calls, report)
demo: $(STAMP)
	$(BIN)/python -m llmobs_nb.demo.job

## make test: install (system packages too: prometheus, chromium; the peer systems: Phoenix,
## MLflow), then run every test
test: $(STAMP) system-deps peers
	$(BIN)/python -m pytest

## make lab: JupyterLab on the notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab --ip 127.0.0.1 notebooks/

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

system-deps:
	bash scripts/system-deps.sh

## the interop tests' peers (Arize Phoenix, MLflow), each in its own virtualenv
peers:
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/install-peers.sh

clean:
	rm -rf $(VENV) $(VENV)-phoenix $(VENV)-mlflow data/*.duckdb reports/
