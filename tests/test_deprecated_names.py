"""Names moved by issue #12 keep working for one release, each with a DeprecationWarning.

The tables below are the list of what to delete in the release after: each old module path is
the new module itself (so patching either patches both), each old name the new object.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

MOVED_MODULES = {
    "llmobs_nb.testing.llm_server": "llmobs_nb.local_llm.llm_server",
    "llmobs_nb.testing.local_model": "llmobs_nb.local_llm.local_model",
    "llmobs_nb.testing.openai_payloads": "llmobs_nb.local_llm.openai_payloads",
    "llmobs_nb.testing.anthropic_payloads": "llmobs_nb.local_llm.anthropic_payloads",
    "llmobs_nb.testing.reply": "llmobs_nb.local_llm.reply",
    "llmobs_nb.testing.secret_corpus": "llmobs_nb.demo.secret_corpus",
    "llmobs_nb.metrics.labels": "llmobs_nb.metrics.label_guard",
    "llmobs_nb.evals.rows": "llmobs_nb.evals.score_rows",
    "llmobs_nb.view.source": "llmobs_nb.view.data_source",
    "llmobs_nb.capture.usage": "llmobs_nb.capture.response_usage",
}

MOVED_NAMES = {
    ("llmobs_nb.testing", "LLMTestServer"): ("llmobs_nb.local_llm", "LLMTestServer"),
    ("llmobs_nb.testing", "LocalModelServer"): ("llmobs_nb.local_llm", "LocalModelServer"),
    ("llmobs_nb.testing", "LocalModelError"): ("llmobs_nb.local_llm", "LocalModelError"),
    ("llmobs_nb.testing", "RecordedRequest"): ("llmobs_nb.local_llm", "RecordedRequest"),
    ("llmobs_nb.testing", "Usage"): ("llmobs_nb.local_llm", "Usage"),
    ("llmobs_nb.testing", "available"): ("llmobs_nb.local_llm", "available"),
    ("llmobs_nb.testing", "find_model_file"): ("llmobs_nb.local_llm", "find_model_file"),
    ("llmobs_nb.evals", "CallRecord"): ("llmobs_nb.evals", "CapturedCall"),
    ("llmobs_nb.evals.protocol", "CallRecord"): ("llmobs_nb.evals.protocol", "CapturedCall"),
    ("llmobs_nb.alerts", "evaluate"): ("llmobs_nb.export.backtest", "backtest_alert_rules"),
    ("llmobs_nb.alerts", "EPISODE_SCHEMA"): ("llmobs_nb.export.backtest", "EPISODE_SCHEMA"),
    ("llmobs_nb.view", "Filters"): ("llmobs_nb.analytics", "Filter"),
    ("llmobs_nb.view.data_source", "Filters"): ("llmobs_nb.analytics", "Filter"),
    ("llmobs_nb.observer", "live_observers"): ("llmobs_nb.registry", "live_observers"),
    ("llmobs_nb.observer", "observer_for_path"): ("llmobs_nb.registry", "observer_for_path"),
    ("llmobs_nb.clients.patching", "suppress_instrumentation"): (
        "llmobs_nb.capture.tracer",
        "suppress_instrumentation",
    ),
}


@pytest.mark.parametrize(("old", "new"), sorted(MOVED_MODULES.items()))
def test_an_old_module_path_is_the_new_module_with_a_warning(old: str, new: str):
    sys.modules.pop(old, None)  # an earlier test may have imported it already
    parent, _, child = old.rpartition(".")
    vars(importlib.import_module(parent)).pop(child, None)
    with pytest.warns(DeprecationWarning, match=rf"{old} is deprecated: use {new}$"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


@pytest.mark.parametrize(("old", "new"), sorted(MOVED_NAMES.items()))
def test_an_old_name_is_the_new_object_with_a_warning(old: tuple, new: tuple):
    old_module, old_name = old
    new_module, new_name = new
    message = rf"{old_module}.{old_name} is deprecated: use {new_module}.{new_name}$"
    with pytest.warns(DeprecationWarning, match=message):
        found = getattr(importlib.import_module(old_module), old_name)
    assert found is getattr(importlib.import_module(new_module), new_name)


def test_a_name_that_never_existed_is_still_an_attribute_error():
    module = importlib.import_module("llmobs_nb.testing")
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchServer'"):
        module.NoSuchServer  # noqa: B018


def test_the_new_names_import_without_any_warning():
    # A fresh interpreter: nothing imported yet, every warning an error.
    modules = sorted({*MOVED_MODULES.values(), *(module for module, _ in MOVED_NAMES.values())})
    code = "; ".join(f"import {module}" for module in modules)
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_from_old_package_import_a_submodule_works():
    sys.modules.pop("llmobs_nb.testing.reply", None)
    vars(importlib.import_module("llmobs_nb.testing")).pop("reply", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from llmobs_nb.testing import reply
    assert reply is importlib.import_module("llmobs_nb.local_llm.reply")
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
