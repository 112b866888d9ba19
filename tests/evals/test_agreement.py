"""Judge calibration: agreement with human labels, with bootstrap intervals and n."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from llmobs_nb.evals import agreement


def test_kappa_of_perfect_agreement_is_one_with_n():
    labels = {f"s{i}": ("pass" if i % 3 else "fail") for i in range(30)}
    result = agreement(labels, labels).row(0, named=True)
    assert result["metric"] == "cohen_kappa"
    assert result["estimate"] == 1.0 and result["n"] == 30
    assert result["ci_low"] == 1.0 and result["ci_high"] == 1.0


def test_kappa_matches_hand_computation():
    judge = ["pass"] * 20 + ["fail"] * 10
    human = ["pass"] * 15 + ["fail"] * 5 + ["pass"] * 3 + ["fail"] * 7
    ids = [f"s{i}" for i in range(30)]
    result = agreement(dict(zip(ids, judge, strict=True)), dict(zip(ids, human, strict=True))).row(
        0, named=True
    )
    observed = (15 + 7) / 30
    expected = (20 / 30) * (18 / 30) + (10 / 30) * (12 / 30)
    assert result["estimate"] == pytest.approx((observed - expected) / (1 - expected))
    assert result["ci_low"] < result["estimate"] < result["ci_high"]


def test_spearman_on_scores_from_frames_like_obs_scores():
    rng = np.random.default_rng(1)
    human = rng.uniform(0, 1, 200)
    judge = np.clip(human + rng.normal(0, 0.2, 200), 0, 1)
    ids = [f"{i:016x}" for i in range(200)]
    scores = pl.DataFrame({"span_id": ids, "value": judge, "source": "eval:judge@1"})
    labels = pl.DataFrame({"span_id": ids, "value": human})
    result = agreement(scores, labels, n_boot=500).row(0, named=True)
    assert result["metric"] == "spearman"
    assert result["estimate"] == pytest.approx(stats.spearmanr(judge, human).statistic)
    assert result["ci_low"] < result["estimate"] < result["ci_high"]
    assert result["ci_high"] - result["ci_low"] < 0.2
    assert result["p_value"] < 1e-10


def test_failed_evaluations_and_unmatched_calls_are_left_out_and_counted():
    scores = pl.DataFrame(
        {"span_id": ["a", "b", "c", "d"], "value": [0.9, None, 0.1, 0.5], "label": [None] * 4}
    )
    human = {"a": 1.0, "b": 0.0, "c": 0.0, "e": 1.0}
    result = agreement(scores, human, n_boot=0).row(0, named=True)
    assert (result["n"], result["n_missing"]) == (2, 3)
    assert math.isnan(result["ci_low"])


def test_constant_labels_give_nan_not_a_false_claim():
    same = {f"s{i}": "pass" for i in range(10)}
    result = agreement(same, same).row(0, named=True)
    assert math.isnan(result["estimate"])


def test_agreement_explains_bad_inputs():
    with pytest.raises(ValueError, match="several rows for span_id 'a'"):
        agreement(pl.DataFrame({"span_id": ["a", "a"], "value": [0.1, 0.2]}), {"a": 1.0})
    with pytest.raises(ValueError, match="share no category"):
        agreement({"a": "good", "b": "bad"}, {"a": "pass", "b": "fail"})
    with pytest.raises(ValueError, match="method must be one of"):
        agreement({"a": 1.0}, {"a": 1.0}, method="pearson")
