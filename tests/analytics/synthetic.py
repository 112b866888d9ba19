"""Small synthetic llm_calls and scores frames, built with numpy, with incidents we inject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

T0 = datetime(2025, 3, 3, tzinfo=UTC)
MODELS = np.array(["gpt-4o", "claude-sonnet", "gpt-4o-mini", "local-llama"])
# USD per call on average; local-llama has no price, so its cost is NULL.
MODEL_COST = np.array([0.012, 0.010, 0.001, np.nan])
USE_CASES = np.array(["customer_service", "search", "summarise"])


def calls_frame(
    n: int = 20_000,
    days: int = 7,
    seed: int = 0,
    spike_at: datetime | None = None,
    spike_calls: int = 600,
    spike_cost_usd: float = 0.08,
) -> pl.DataFrame:
    """Calls over ``days`` with a daily rhythm; ``spike_at``: one user floods gpt-4o for an hour."""
    rng = np.random.default_rng(seed)
    span_s = days * 86_400
    # Daily rhythm: more traffic in the afternoon, by rejection sampling of uniform times.
    t = rng.uniform(0, span_s, size=3 * n)
    keep = rng.uniform(0, 1, size=3 * n) < 0.6 + 0.4 * np.sin(2 * np.pi * t / 86_400)
    t = np.sort(t[keep][:n])
    n = len(t)
    model_idx = rng.choice(len(MODELS), size=n, p=[0.3, 0.25, 0.35, 0.1])
    streamed = rng.uniform(size=n) < 0.6
    latency = rng.lognormal(mean=np.log([2.0, 2.5, 0.8, 1.2])[model_idx], sigma=0.5)
    ttft = np.where(streamed, latency * rng.uniform(0.05, 0.3, size=n), np.nan)
    input_tokens = rng.poisson(800, size=n)
    output_tokens = rng.poisson(200, size=n)
    cost = MODEL_COST[model_idx] * rng.uniform(0.5, 1.5, size=n)
    is_error = rng.uniform(size=n) < 0.02
    error_type = np.where(is_error, rng.choice(["RateLimitError", "APITimeoutError"], size=n), None)
    frame = pl.DataFrame(
        {
            "trace_id": [f"t{i:08x}" for i in range(n)],
            "span_id": [f"s{i:08x}" for i in range(n)],
            "parent_span_id": pl.Series([None] * n, dtype=pl.String),
            "name": "chat",
            "kind": "llm",
            "start_time": T0 + pl.Series(t * 1e6).cast(pl.Int64).cast(pl.Duration("us")),
            "latency_s": latency,
            "ttft_s": ttft,
            "provider": np.where(model_idx == 1, "anthropic", "openai"),
            "model": MODELS[model_idx],
            "operation": "chat",
            "use_case": rng.choice(USE_CASES, size=n),
            "user_id": rng.choice([f"u{i:02d}" for i in range(40)], size=n),
            "run": rng.choice(["prompt-v1", "prompt-v2"], size=n),
            "response_model": MODELS[model_idx],
            "status": np.where(is_error, "error", "ok"),
            "error_type": pl.Series(error_type.tolist(), dtype=pl.String),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_input_tokens": rng.binomial(input_tokens, 0.2),
            "reasoning_tokens": np.zeros(n, dtype=np.int64),
            "cost_usd": cost,
        },
        strict=False,
    ).with_columns(
        pl.col("ttft_s").fill_nan(None),
        pl.col("cost_usd").fill_nan(None),
        (pl.col("start_time") + pl.duration(microseconds=pl.col("latency_s") * 1e6)).alias(
            "end_time"
        ),
    )
    if spike_at is not None:
        frame = pl.concat([frame, _spike(frame, spike_at, spike_calls, spike_cost_usd, rng)])
    return frame.sort("start_time")


def _spike(
    frame: pl.DataFrame, at: datetime, calls: int, cost: float, rng: np.random.Generator
) -> pl.DataFrame:
    offsets = rng.uniform(0, 3600e6, size=calls).astype(np.int64)
    sample = frame.sample(calls, with_replacement=True, seed=1)
    return sample.with_columns(
        (pl.lit(at).dt.cast_time_unit("us") + pl.Series(offsets).cast(pl.Duration("us"))).alias(
            "start_time"
        ),
        pl.Series([f"spike{i}" for i in range(calls)]).alias("span_id"),
        pl.Series([f"spike{i}" for i in range(calls)]).alias("trace_id"),
        pl.lit("u-flood").alias("user_id"),
        pl.lit("gpt-4o").alias("model"),
        pl.lit(cost).alias("cost_usd"),
    ).select(frame.columns)


def scores_frame(
    calls: pl.DataFrame,
    seed: int = 0,
    drop_model: str | None = None,
    drop_at: datetime | None = None,
    drop_factor: float = 0.6,
    by_trace_share: float = 0.2,
) -> pl.DataFrame:
    """A ``quality`` score per call, around 0.82; after ``drop_at`` ``drop_model``'s falls.

    A share of scores is attached by trace (span_id NULL), as an end-to-end judge would.
    """
    rng = np.random.default_rng(seed + 10_000)
    n = calls.height
    value = np.clip(rng.normal(0.82, 0.08, size=n), 0, 1)
    if drop_model is not None and drop_at is not None:
        hit = (calls["model"] == drop_model) & (calls["start_time"] >= drop_at)
        value = np.where(hit.to_numpy(), value * drop_factor, value)
    by_trace = rng.uniform(size=n) < by_trace_share
    return pl.DataFrame(
        {
            "trace_id": calls["trace_id"],
            "span_id": calls["span_id"].scatter(np.flatnonzero(by_trace), None),
            "name": "quality",
            "value": value,
            "source": "llm_judge",
            "comment": pl.Series([None] * n, dtype=pl.String),
            "created_at": calls["end_time"],
        },
        strict=False,
    )


def run_pair(
    n_a: int, n_b: int, seed: int, truth: dict[str, tuple[float, float]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Calls and scores of runs ``a`` and ``b`` drawn from distributions with known parameters.

    ``truth`` maps: ``latency_median`` (lognormal, σ 0.5), ``cost`` (mean, exponential),
    ``tokens`` (Poisson mean of output tokens; input is fixed at 100), ``errors`` (probability),
    ``quality`` (normal mean, sd 0.1) to the (a, b) values.
    """
    rng = np.random.default_rng(seed)
    frames, score_frames = [], []
    for side, (run, n) in enumerate((("a", n_a), ("b", n_b))):
        latency = rng.lognormal(np.log(truth["latency_median"][side]), 0.5, size=n)
        ids = [f"{run}{i}" for i in range(n)]
        frames.append(
            pl.DataFrame(
                {
                    "trace_id": ids,
                    "span_id": ids,
                    "kind": "llm",
                    "start_time": pl.datetime_range(
                        T0, T0 + timedelta(seconds=n - 1), "1s", eager=True
                    ),
                    "run": run,
                    "model": "m",
                    "latency_s": latency,
                    "cost_usd": rng.exponential(truth["cost"][side], size=n),
                    "input_tokens": np.full(n, 100),
                    "output_tokens": rng.poisson(truth["tokens"][side] - 100, size=n),
                    "status": np.where(rng.uniform(size=n) < truth["errors"][side], "error", "ok"),
                }
            )
        )
        score_frames.append(
            pl.DataFrame(
                {
                    "trace_id": ids,
                    "span_id": ids,
                    "name": "quality",
                    "value": rng.normal(truth["quality"][side], 0.1, size=n),
                }
            )
        )
    return pl.concat(frames), pl.concat(score_frames)
