"""compare_runs: differences with bootstrap intervals that cover the truth, plain verdicts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from tests.analytics.synthetic import calls_frame, run_pair, scores_frame

TRUTH = {
    "latency_median": (2.0, 1.6),
    "cost": (0.010, 0.013),
    "tokens": (300, 300),
    "errors": (0.05, 0.02),
    "quality": (0.80, 0.75),
}
Z95 = 1.6448536269514722  # the 95th percentile of a standard normal
TRUE_DIFF = {
    "latency_p50_s": 1.6 - 2.0,
    "latency_p95_s": (1.6 - 2.0) * np.exp(0.5 * Z95),
    "cost_per_call_usd": 0.003,
    "tokens_per_call": 0.0,
    "error_rate": -0.03,
    "score:quality": -0.05,
}


def test_verdicts_say_better_worse_or_no_difference() -> None:
    calls, scores = run_pair(3000, 3000, seed=1, truth=TRUTH)
    result = analytics.compare_runs(calls, "a", "b", scores=scores)
    verdicts = dict(zip(result["metric"], result["verdict"], strict=True))
    assert verdicts == {
        "latency_p50_s": "better",
        "latency_p95_s": "better",
        "cost_per_call_usd": "worse",
        "tokens_per_call": "no significant difference",
        "error_rate": "better",
        "score:quality": "worse",
    }
    row = result.filter(pl.col("metric") == "cost_per_call_usd").row(0, named=True)
    a_cost = calls.filter(pl.col("run") == "a")["cost_usd"].mean()
    assert row["a"] == pytest.approx(a_cost)
    assert row["diff"] == pytest.approx(row["b"] - row["a"])
    assert row["ci_low"] < row["diff"] < row["ci_high"]
    assert (row["n_a"], row["n_b"], row["better_when"]) == (3000, 3000, "lower")


def test_same_seed_same_interval() -> None:
    calls, scores = run_pair(300, 300, seed=2, truth=TRUTH)
    first = analytics.compare_runs(calls, "a", "b", scores=scores, seed=7)
    assert_frame_equal(first, analytics.compare_runs(calls, "a", "b", scores=scores, seed=7))
    other = analytics.compare_runs(calls, "a", "b", scores=scores, seed=8)
    assert not first["ci_low"].equals(other["ci_low"])


def test_a_run_too_small_for_p95_says_not_enough_data() -> None:
    calls, _ = run_pair(10, 300, seed=3, truth=TRUTH)
    row = analytics.compare_runs(calls, "a", "b").filter(pl.col("metric") == "latency_p95_s")
    assert row.select("n_a", "ci_low", "verdict").to_dicts() == [
        {"n_a": 10, "ci_low": None, "verdict": "not enough data"}
    ]


def test_large_runs_are_bootstrapped_m_out_of_n_with_the_right_width() -> None:
    calls, _ = run_pair(60_000, 60_000, seed=4, truth=TRUTH)
    row = analytics.compare_runs(calls, "a", "b").filter(pl.col("metric") == "cost_per_call_usd")
    # Difference of two exponential means: sd = sqrt(0.010² + 0.013²) / sqrt(60 000).
    sd = np.sqrt(0.010**2 + 0.013**2) / np.sqrt(60_000)
    width = row["ci_high"].item() - row["ci_low"].item()
    assert width == pytest.approx(2 * 1.96 * sd, rel=0.15)


def test_every_source_gives_the_same_comparison(sources) -> None:
    calls = calls_frame(n=3000, seed=6)
    scores = scores_frame(calls, seed=6)
    expected = analytics.compare_runs(calls, "prompt-v1", "prompt-v2", scores=scores)
    assert expected["metric"].to_list()[-1] == "score:quality"
    for name, (source, given) in sources(calls, scores).items():
        got = analytics.compare_runs(source, "prompt-v1", "prompt-v2", scores=given)
        assert_frame_equal(got, expected, rel_tol=1e-9), name


@pytest.mark.slow
def test_95_percent_interval_covers_the_true_difference_in_90_of_100_simulations() -> None:
    covered = dict.fromkeys(TRUE_DIFF, 0)
    for seed in range(100):
        calls, scores = run_pair(300, 300, seed=seed, truth=TRUTH)
        result = analytics.compare_runs(calls, "a", "b", scores=scores, seed=seed)
        for row in result.iter_rows(named=True):
            covered[row["metric"]] += row["ci_low"] <= TRUE_DIFF[row["metric"]] <= row["ci_high"]
    print("coverage of 95% intervals in 100 simulations:", covered)
    assert min(covered.values()) >= 90, covered


def test_quantile_bootstrap_by_order_statistics_matches_resampling() -> None:
    from llmobs_nb.analytics.compare import _quantile

    rng = np.random.default_rng(0)
    x = np.sort(rng.integers(0, 30, size=60).astype(float))  # with ties
    fast = _quantile(0.95).replicates(x, 40_000, np.random.default_rng(1))
    slow = np.quantile(x[rng.integers(0, len(x), size=(40_000, len(x)))], 0.95, axis=1)
    # Same distribution: the empirical CDFs agree everywhere (Kolmogorov–Smirnov distance).
    grid = np.union1d(fast, slow)
    cdf = [np.searchsorted(np.sort(r), grid, side="right") / len(r) for r in (fast, slow)]
    assert np.abs(cdf[0] - cdf[1]).max() < 0.015
    assert fast.std() == pytest.approx(slow.std(), rel=0.03)
