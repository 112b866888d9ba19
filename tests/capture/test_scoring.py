"""llmobs_nb.scoring: the checks of a score and its row (through Scores, on a real store)."""

from __future__ import annotations

import pytest

import llmobs_nb
from llmobs_nb.capture.span_labels import SpanLabels
from llmobs_nb.scoring import Scores, UnknownSpanError, check_value, score_row
from llmobs_nb.store import Store


def test_the_error_classes_keep_their_old_homes():
    from llmobs_nb.observer import ObserverClosedError
    from llmobs_nb.observer import UnknownSpanError as Old

    assert Old is UnknownSpanError is llmobs_nb.UnknownSpanError
    assert ObserverClosedError is llmobs_nb.ObserverClosedError


@pytest.mark.parametrize(
    ("name", "value", "bounds", "error"),
    [
        ("", 0.5, (0.0, 1.0), ValueError),
        ("q", True, (0.0, 1.0), TypeError),
        ("q", "0.5", (0.0, 1.0), TypeError),
        ("q", float("nan"), None, ValueError),
        ("q", 1.5, (0.0, 1.0), ValueError),
    ],
)
def test_check_value_refuses_what_is_not_a_score(name, value, bounds, error):
    with pytest.raises(error):
        check_value(name, value, bounds)


def test_check_value_takes_an_unbounded_number():
    assert check_value("latency_ratio", 3, None) == 3.0


def test_the_score_row_is_redacted():
    row = score_row("0" * 32, None, "quality", 0.5, comment="key sk-abcdef1234567890abcdef12")
    assert "sk-abcdef" not in row.column("comment")[0].as_py()


def test_scores_take_labels_from_the_cache_or_the_store(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    flushed: list[int] = []
    labels = SpanLabels()
    scores = Scores(store, labels, flush=lambda: flushed.append(1))
    with pytest.raises(UnknownSpanError, match="no span '00f067aa0ba902b7'") as caught:
        scores.add("00f067aa0ba902b7", value=0.9)
    assert flushed == [1]  # flushed before saying it is unknown
    assert isinstance(caught.value, KeyError)
    with pytest.raises(ValueError, match="16 lowercase hex"):
        scores.add("XYZ", value=0.9)
    with pytest.raises(ValueError, match="needs span_id= or trace_id="):
        scores.add(value=0.9)
    store.execute(
        "INSERT INTO spans (trace_id, span_id, kind, model, use_case) "
        "VALUES (?, ?, 'llm', 'gpt-4o', 'qa')",
        ["a" * 32, "b" * 16],
    )
    scores.add("b" * 16, value=0.9, label="ok")
    scores.add(trace_id="a" * 32, name="thumbs", value=1, source="human")
    rows = store.query("select trace_id, span_id, name, label from scores order by name").rows()
    assert rows == [("a" * 32, "b" * 16, "quality", "ok"), ("a" * 32, None, "thumbs", None)]
