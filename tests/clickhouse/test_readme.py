"""The README's "When one machine is not enough" example runs as written, offline, in a fresh
process (chdb runs one embedded server per process)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_clickhouse_example_runs(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = re.search(r"(?ms)^## When one machine is not enough\n(.*?)(?=^#{1,2} )", text)
    assert section, "README has no 'When one machine is not enough' section"
    blocks = re.findall(r"(?ms)^( *)```python\n(.*?)^\1```", section.group(1))
    assert len(blocks) == 1
    code = textwrap.dedent(blocks[0][1])
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "calls" in done.stdout and "gpt-4o" in done.stdout
