"""Notebook manners: running every cell twice in one kernel gives the same results, cleanly."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
IGNORE = "NBVAL_IGNORE_OUTPUT"
VOLATILE = re.compile(r"0x[0-9a-f]+|/tmp/\S+")

pytestmark = pytest.mark.slow


def _run_all(client: NotebookClient, notebook: nbformat.NotebookNode) -> list[list[dict]]:
    outputs = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            client.execute_cell(cell, index)
            outputs.append(copy.deepcopy(cell.outputs))
    return outputs


def _comparable(outputs: list[dict]) -> list[str]:
    texts = []
    for output in outputs:
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        texts.append(VOLATILE.sub("~", text))
    return texts


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_cell_run_twice_gives_the_same_results_and_no_warnings(path: Path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    with client.setup_kernel():
        first = _run_all(client, notebook)
        second = _run_all(client, notebook)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    for cell, once, twice in zip(code_cells, first, second, strict=True):
        for output in twice:
            assert output["output_type"] != "error", cell.source
            if output["output_type"] == "stream" and output["name"] == "stderr":
                assert "Warning" not in output["text"], (cell.source, output["text"])
        if IGNORE not in cell.source:
            assert _comparable(twice) == _comparable(once), cell.source
