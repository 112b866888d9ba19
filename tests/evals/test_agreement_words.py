"""describe_agreement: an agreement figure said in words, from real agreement() results."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from llmobs_nb.evals import agreement, describe_agreement
from llmobs_nb.evals.agreement_words import strength


def scores_with_noise(noise: float, n: int, seed: int = 3) -> tuple[dict, dict]:
    """Judge scores that follow human ones up to ``noise``."""
    rng = np.random.default_rng(seed)
    human = rng.uniform(0, 1, n)
    judge = human + rng.normal(0, noise, n)
    ids = [f"s{i}" for i in range(n)]
    return dict(zip(ids, judge, strict=True)), dict(zip(ids, human, strict=True))


def said(result: pl.DataFrame) -> str:
    """The description on one line: the tests read its words, not its line breaks."""
    return " ".join(describe_agreement(result).split())


def test_a_moderate_judge_is_for_watching_not_for_alerting_alone():
    judge, human = scores_with_noise(0.6, 1000)
    human_thumbs = {k: float(v > 0.5) for k, v in human.items()}
    result = agreement(judge, human_thumbs, method="spearman")
    estimate = result["estimate"][0]
    assert 0.3 <= estimate < 0.5
    text = said(result)
    assert text.startswith(f"Spearman's rho = {estimate:.2f} (95 % interval ")
    assert "over 1,000 calls: moderate agreement." in text
    assert "The interval excludes 0" in text
    assert "don't alert on it alone" in text
    assert "at or above 0.7" in text  # the thresholds are stated
    assert max(len(line) for line in describe_agreement(result).splitlines()) <= 100


def test_a_close_judge_may_alert_alone():
    judge, human = scores_with_noise(0.02, 500)
    text = said(agreement(judge, human, method="spearman"))
    assert "very strong agreement" in text
    assert "alert on by itself" in text
    assert "don't alert" not in text


def test_an_interval_including_zero_could_be_chance():
    rng = np.random.default_rng(5)
    ids = [f"s{i}" for i in range(15)]
    judge = dict(zip(ids, rng.uniform(0, 1, 15), strict=True))
    human = dict(zip(ids, rng.uniform(0, 1, 15), strict=True))
    result = agreement(judge, human, method="spearman")
    assert result["ci_low"][0] < 0 < result["ci_high"][0]
    text = said(result)
    assert "could be chance" in text
    assert "Only 15 calls" in text
    assert "don't use this evaluator for decisions or alerts yet" in text


def test_a_reversed_judge_is_named_as_such():
    judge, human = scores_with_noise(0.1, 300)
    reversed_judge = {k: -v for k, v in judge.items()}
    text = said(agreement(reversed_judge, human, method="spearman"))
    assert "negative: it ranks calls the opposite way" in text
    assert "Check its scale's direction" in text


def test_kappa_uses_its_own_scale_and_counts_left_out_calls():
    labels = {f"s{i}": ("pass" if i % 3 else "fail") for i in range(60)}
    judge = dict(labels, extra="pass")
    text = said(agreement(judge, labels))
    assert text.startswith("Cohen's kappa = 1.00")
    assert "almost perfect agreement" in text
    assert "1 call scored on one side only (or whose evaluation failed) was left out." in text


def test_undefined_agreement_says_why_and_what_to_do():
    same = {"a": 1.0, "b": 1.0, "c": 1.0}
    text = said(agreement(same, {"a": 0.0, "b": 1.0, "c": 0.5}, method="spearman"))
    assert "undefined over 3 calls: one side gives every call the same value" in text
    one = said(agreement({"a": 1.0}, {"a": 0.0}, method="spearman"))
    assert "undefined over 1 call: fewer than 2 calls" in one


def test_without_bootstrap_the_figure_is_uncertain():
    judge, human = scores_with_noise(0.02, 200)
    text = said(agreement(judge, human, method="spearman", n_boot=0))
    assert "No interval was computed" in text
    assert "alert on by itself" not in text


@pytest.mark.parametrize(
    ("metric", "estimate", "word"),
    [
        ("spearman", 0.05, "negligible"),
        ("spearman", 0.1, "weak"),
        ("spearman", -0.35, "moderate"),
        ("spearman", 0.5, "strong"),
        ("spearman", 0.7, "very strong"),
        ("cohen_kappa", -0.1, "worse than chance"),
        ("cohen_kappa", 0.19, "slight"),
        ("cohen_kappa", 0.2, "fair"),
        ("cohen_kappa", 0.6, "substantial"),
        ("cohen_kappa", 0.8, "almost perfect"),
        ("spearman", float("nan"), "undefined"),
    ],
)
def test_strength_bands(metric, estimate, word):
    assert strength(metric, estimate) == word


def test_only_agreements_one_row_frame_is_accepted():
    judge, human = scores_with_noise(0.1, 50)
    result = agreement(judge, human, method="spearman")
    with pytest.raises(ValueError, match="one-row frame"):
        describe_agreement(pl.concat([result, result]))
    with pytest.raises(ValueError, match="lacks"):
        describe_agreement(result.drop("ci_low"))
    with pytest.raises(ValueError, match="unknown metric"):
        describe_agreement(result.with_columns(metric=pl.lit("pearson")))
    with pytest.raises(ValueError, match="metric must be one of"):
        strength("pearson", 0.3)
