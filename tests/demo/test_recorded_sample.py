"""The committed sample of real local-model calls (data/local_model/) and its recorder.

The committed files are checked for what data/README.md promises: the documented files and
columns, every model call a real SmolLM2 call with tokens, its prompt and answer captured, one
score each. The recorder itself is run against the real model (slow) and its output loaded
into an observer, where a trace opens with its prompt and answer.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb.demo.experiment import QUESTIONS, judge
from llmobs_nb.demo.recorded import SAMPLE_FILES, load_sample, read_sample, record_sample
from llmobs_nb.local_llm import available
from llmobs_nb.local_llm.local_model import MODEL_NAME
from llmobs_nb.store.schema import SCORES, SPANS

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "local_model"
README = REPO / "data" / "README.md"


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return read_sample(SAMPLE)


def test_the_committed_sample_is_small_and_every_file_is_described_in_the_readme():
    files = sorted(p.name for p in SAMPLE.iterdir())
    assert files == sorted(SAMPLE_FILES)
    assert sum((SAMPLE / name).stat().st_size for name in files) < 1_000_000
    readme = README.read_text()
    for name in SAMPLE_FILES:
        assert f"`{name}`" in readme, name
    assert "python -m llmobs_nb.demo.recorded" in readme
    assert "Apache" in readme


def test_the_spans_file_has_the_store_columns_and_the_calls_file_the_documented_ones(tables):
    assert tuple(tables["spans"].columns) == SPANS.names
    assert tuple(tables["scores"].columns) == SCORES.names
    readme = README.read_text()
    documented = re.findall(r"`([a-z_]+)`", readme.split("`llm_calls.parquet`", 1)[1])
    for column in ("trace_id", "latency_s", "ttft_s", "input_tokens", "output_tokens"):
        assert column in documented and column in tables["llm_calls"].columns


def test_every_call_is_a_real_local_model_call_with_tokens_prompt_and_answer(tables):
    calls, spans = tables["llm_calls"], tables["spans"]
    assert calls.height == 2 * len(QUESTIONS)
    assert set(calls["model"]) == {MODEL_NAME} and set(calls["provider"]) == {"openai"}
    assert set(calls["status"]) == {"ok"} and set(calls["run"]) == {"prompt-v1", "prompt-v2"}
    assert calls["input_tokens"].min() > 0 and calls["output_tokens"].min() > 0
    assert calls["latency_s"].min() > 0
    # Half of the calls streamed: they, and only they, have a time to first token.
    assert calls["ttft_s"].is_not_null().sum() == calls.height // 2
    llm = spans.filter(pl.col("kind") == "llm")
    assert sorted(llm["span_id"]) == sorted(calls["span_id"])
    assert llm["input_text"].null_count() == 0 and llm["output_text"].null_count() == 0
    asked = {q for q, _ in QUESTIONS}
    for prompt in llm["input_text"]:
        assert any(question in prompt for question in asked), prompt
    # Each model call sits under the experiment's qa span of the same trace.
    parents = spans.filter(pl.col("kind") == "chain").select("trace_id", "span_id")
    joined = llm.join(
        parents, left_on=["trace_id", "parent_span_id"], right_on=["trace_id", "span_id"]
    )
    assert joined.height == llm.height


def test_the_scores_are_the_judge_of_the_recorded_answers(tables):
    scores, spans = tables["scores"], tables["spans"]
    answers = dict(spans.select("span_id", "output_text").iter_rows())
    assert scores.height == tables["llm_calls"].height
    for row in scores.iter_rows(named=True):
        reference = row["comment"].removeprefix("reference: ")
        assert row["value"] == judge(answers[row["span_id"]], reference)


def test_loaded_into_an_observer_a_recorded_trace_shows_its_prompt_and_answer(tmp_path, tables):
    obs = llmobs_nb.init(db=tmp_path / "loaded.duckdb", project="recorded-test")
    try:
        assert load_sample(obs, SAMPLE) == tables["llm_calls"].height
        assert load_sample(obs, SAMPLE) == 0  # a re-run adds nothing
        assert obs.calls().height == tables["llm_calls"].height
        slowest = obs.calls().sort("latency_s", descending=True).row(0, named=True)
        call = tables["spans"].filter(pl.col("span_id") == slowest["span_id"]).row(0, named=True)
        html = obs.trace(slowest["trace_id"])._repr_html_()
        assert "<details open>" in html
        question = re.search(r'"user", "content": "([^"]+)"', call["input_text"]).group(1)
        assert question.replace("?", "") in html
        assert call["output_text"][:30].replace("'", "&#x27;") in html
    finally:
        obs.close()


def test_a_missing_sample_is_refused_with_how_to_record_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape("python -m llmobs_nb.demo.recorded")):
        read_sample(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not available()[0], reason=available()[1])
def test_recording_again_writes_the_same_files_from_real_calls(tmp_path):
    out = record_sample(tmp_path / "again", questions=QUESTIONS[:2])
    again = read_sample(out)
    committed = read_sample(SAMPLE)
    for table, frame in again.items():
        assert frame.columns == committed[table].columns, table
    calls = again["llm_calls"]
    assert calls.height == 4 and set(calls["model"]) == {MODEL_NAME}
    assert calls["output_tokens"].min() > 0
    llm = again["spans"].filter(pl.col("kind") == "llm")
    assert llm["output_text"].null_count() == 0
    # temperature 0: the same questions get the answers committed for them
    first = dict(
        committed["spans"]
        .filter(pl.col("kind") == "llm")
        .select("input_text", "output_text")
        .iter_rows()
    )
    for prompt, answer in llm.select("input_text", "output_text").iter_rows():
        assert answer == first[prompt]
