"""The README's quickstart runs as written: its first code block, in a fresh process, offline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from llmobs_nb.local_llm import available

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    """The README's text under ``## title``, up to the next heading of that level."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"(?ms)^## {re.escape(title)}\n(.*?)(?=^#{{1,2}} )", text)
    assert found, f"README has no '## {title}' section"
    return found.group(1)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"(?ms)^```python\n(.*?)^```", text)


def test_the_readme_starts_with_its_two_commands_then_install_and_quickstart():
    text = README.read_text(encoding="utf-8")
    assert re.search(r"```bash\nmake demo .*\nmake test ", text)
    headings = re.findall(r"(?m)^## (.+)$", text)
    assert headings[:3] == ["Install", "Quickstart", "The notebooks"]
    for line in ("make lab", "reports/", "data/"):
        assert line in section("The notebooks")


def test_every_notebook_is_listed_with_a_screenshot():
    listed = section("The notebooks")
    for notebook in sorted((README.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{notebook.name}" in listed
        shot = f"docs/screenshots/{notebook.stem}.png"
        assert shot in listed
        assert (README.parent / shot).is_file(), f"{shot} is linked but missing"


@pytest.mark.slow
def test_the_quickstart_runs_as_written(tmp_path: Path):
    ok, why = available()
    if not ok:
        pytest.skip(f"the local model cannot run here: {why}")
    code = python_blocks(section("Quickstart"))[0]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Paris" in done.stdout
    assert "SmolLM2-135M-Instruct" in done.stdout
    assert "Warning" not in done.stderr  # priced (declared self-hosted), nothing to warn about
    with duckdb.connect(str(tmp_path / "quickstart.duckdb"), read_only=True) as db:
        row = db.execute(
            "select run, cost_usd, input_tokens > 0, output_tokens > 0 from llm_calls"
        ).fetchall()
        text = db.execute("select input_text, output_text from spans where kind = 'llm'").fetchone()
    assert row == [("prompt-v2", 0.0, True, True)]
    assert "capital of France" in text[0] and "Paris" in text[1]
