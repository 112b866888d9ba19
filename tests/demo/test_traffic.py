"""The traffic looks like production: real prices, errors, caching, users, a daily cycle, an
A/B experiment, judge and human scores; and the same seed gives the same data."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import genai_prices
import numpy as np
import polars as pl
import pytest

from llmobs_nb import demo
from tests.demo.priced import assert_priced_like_genai_prices


def test_costs_are_the_price_books_for_each_call_and_an_unpriced_model_costs_null(sample):
    ok = sample.calls.filter(pl.col("status") == "ok")
    priced = ok.filter(pl.col("cost_usd").is_not_null())
    assert priced["model"].n_unique() >= 3
    unpriced = ok.filter(pl.col("cost_usd").is_null())
    assert set(unpriced["model"]) == {"llama-3-8b-local"}
    assert unpriced["input_tokens"].null_count() == 0  # tokens known, price not

    spans = sample.spans.filter(pl.col("kind") == "llm", pl.col("cost_usd").is_not_null())
    assert_priced_like_genai_prices(spans, 200)


def test_an_openai_cost_matches_genai_prices_directly(sample):
    row = sample.calls.filter(pl.col("model") == "gpt-4o", pl.col("cached_input_tokens") > 0).row(
        0, named=True
    )
    usage = genai_prices.Usage(
        input_tokens=row["input_tokens"],
        cache_read_tokens=row["cached_input_tokens"],
        output_tokens=row["output_tokens"],
    )
    price = genai_prices.calc_price(usage, "gpt-4o", provider_id="openai")
    assert row["cost_usd"] == pytest.approx(float(price.total_price), rel=1e-9)


def test_about_one_to_two_percent_of_calls_fail_with_rate_limits_or_timeouts(sample):
    calls = sample.calls.filter(pl.col("user_id") != sample.truth.cost_spike.user_id)
    failed = calls.filter(pl.col("status") == "error")
    assert 0.01 <= failed.height / calls.height <= 0.025
    assert set(failed["error_type"]) == {"RateLimitError", "APITimeoutError"}
    for column in ("input_tokens", "output_tokens", "cost_usd", "response_model", "ttft_s"):
        assert failed[column].null_count() == failed.height, column
    outputs = sample.spans.filter(pl.col("kind") == "llm", pl.col("status") == "error")
    assert outputs["output_text"].null_count() == outputs.height
    timeouts = failed.filter(pl.col("error_type") == "APITimeoutError")
    assert (timeouts["latency_s"] >= 60).all()
    assert calls.filter(pl.col("status") == "ok")["error_type"].null_count() == (
        calls.height - failed.height
    )


def test_token_counts_follow_the_otel_convention(sample):
    ok = sample.spans.filter(pl.col("kind") == "llm", pl.col("status") == "ok")
    cached = ok["cached_input_tokens"].fill_null(0)
    written = ok["cache_write_tokens"].fill_null(0)
    assert (cached + written <= ok["input_tokens"]).all()  # input includes cached input
    assert (ok["output_tokens"] > 0).all()
    by_provider = ok.group_by("provider").agg(
        (pl.col("cached_input_tokens") > 0).mean().alias("cache_hits"),
        pl.col("cache_write_tokens").is_not_null().any().alias("reports_writes"),
    )
    hits = dict(by_provider.select("provider", "cache_hits").iter_rows())
    assert hits["openai"] > 0.2 and hits["anthropic"] > 0.2
    writes = dict(by_provider.select("provider", "reports_writes").iter_rows())
    assert writes == {"openai": False, "anthropic": True, "self-hosted": False}


def test_traffic_has_several_users_use_cases_and_a_daily_cycle(sample):
    calls = sample.calls
    assert calls["user_id"].n_unique() >= 30
    assert set(calls["use_case"]) == {
        "customer_service",
        "docs_qa",
        "summarization",
        "code_assist",
    }
    by_hour = calls.group_by(pl.col("start_time").dt.hour().alias("hour")).len()
    counts = dict(by_hour.iter_rows())
    assert counts[22] > 2 * counts[10]  # afternoon on US Pacific time vs the middle of its night


def test_latencies_are_log_normal_with_a_long_right_tail(quiet):
    ok = quiet.calls.filter(pl.col("status") == "ok", pl.col("model") == "gpt-4o-mini")[
        "latency_s"
    ].to_numpy()
    logs = np.log(ok)
    skew = float(((logs - logs.mean()) ** 3).mean() / logs.std() ** 3)
    assert abs(skew) < 0.5  # roughly symmetric in log space ...
    assert np.percentile(ok, 99) > 2 * np.median(ok)  # ... so a long tail in seconds


def test_the_experiment_tags_docs_qa_calls_and_prompt_v2_is_a_bit_better_and_faster(quiet):
    calls = quiet.calls
    tagged = calls.filter(pl.col("run").is_not_null())
    assert set(tagged["run"]) == {"prompt-v1", "prompt-v2"}
    assert set(tagged["use_case"]) == {"docs_qa"}
    assert quiet.runs["name"].to_list() == ["prompt-v1", "prompt-v2"]

    quality = quiet.scores.filter(pl.col("name") == "quality").join(
        tagged.select("span_id", "run"), on="span_id"
    )
    means = dict(quality.group_by("run").agg(pl.col("value").mean()).iter_rows())
    delta = quiet.truth.experiment.quality_delta
    assert means["prompt-v2"] - means["prompt-v1"] == pytest.approx(delta, abs=0.012)
    ok = tagged.filter(pl.col("status") == "ok")
    medians = dict(ok.group_by("run").agg(pl.col("latency_s").median()).iter_rows())
    assert medians["prompt-v2"] < medians["prompt-v1"]


def test_scores_are_judge_quality_on_every_successful_call_plus_groundedness_and_thumbs(sample):
    scores = sample.scores
    ok_calls = sample.calls.filter(pl.col("status") == "ok")
    quality = scores.filter(pl.col("name") == "quality")
    assert set(quality["source"]) == {"llm_judge"}
    assert quality.height == ok_calls.height
    assert set(quality["span_id"]) == set(ok_calls["span_id"])
    assert quality["value"].is_between(0, 1).all()

    sources = dict(scores.group_by("name").agg(pl.col("source").first()).iter_rows())
    assert sources == {"quality": "llm_judge", "groundedness": "heuristic", "helpfulness": "human"}
    thumbs = scores.filter(pl.col("name") == "helpfulness")
    assert set(thumbs["value"]) == {0.0, 1.0}
    assert thumbs.filter(pl.col("value") == 0.0)["comment"].null_count() == 0
    labels = dict(thumbs.group_by("value").agg(pl.col("label").unique()).iter_rows())
    assert labels == {0.0: ["thumbs_down"], 1.0: ["thumbs_up"]}

    called = ok_calls.select("span_id", pl.col("end_time"))
    late = scores.join(called, on="span_id")
    assert (late["created_at"] > late["end_time"]).all()  # judged after the answer


def test_a_few_calls_carry_prompt_and_answer_text(sample):
    llm = sample.spans.filter(pl.col("kind") == "llm")
    with_text = llm.filter(pl.col("input_text").is_not_null())
    assert 0 < with_text.height < 0.03 * llm.height
    assert with_text["output_text"].null_count() == 0


def test_the_same_seed_and_start_give_the_same_data(start):
    first = demo.generate(2_000, days=2, seed=7, start=start)
    again = demo.generate(2_000, days=2, seed=7, start=start)
    other = demo.generate(2_000, days=2, seed=8, start=start)
    for name in ("spans", "calls", "scores", "runs", "prices"):
        assert getattr(first, name).equals(getattr(again, name)), name
    assert first.truth == again.truth
    assert not first.spans.equals(other.spans)


def test_start_defaults_to_midnight_utc_days_ago():
    sample = demo.generate(1_000, days=3, incidents=False)
    today = datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
    assert sample.start == today - timedelta(days=3)
    assert sample.end == today


def test_n_calls_counts_the_llm_calls(start):
    assert demo.generate(1_234, days=1, start=start).calls.height == 1_234


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_calls": 500}, "n_calls=500 is too few.*incidents=False"),
        ({"n_calls": 0, "incidents": False}, "n_calls=0"),
        ({"days": 0}, "days=0"),
    ],
)
def test_bad_sizes_are_refused_with_what_to_pass_instead(kwargs, message):
    with pytest.raises(ValueError, match=message):
        demo.generate(**kwargs)
