"""The redactor is built off the caller's path."""

from __future__ import annotations

import subprocess
import sys


def test_init_compiles_the_redaction_rules_before_the_first_call():
    # A fresh process: before init nothing is compiled; after it the rules are ready, so the
    # first traced call does not pay for them inside its span (0.1–0.5 s).
    code = (
        "import llmobs_nb\n"
        "from llmobs_nb.capture import redact\n"
        "assert redact._redactor is None\n"
        "obs = llmobs_nb.init(db=':memory:', capture_content=True)\n"
        "assert redact._redactor is not None\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
