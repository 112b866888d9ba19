"""Draw the LLM calls themselves, one array element per call, all vectorised with numpy.

Every trace of the demo holds exactly one LLM call, so "call" and "trace" index the same arrays.
Floats use NaN for "unknown"; the frame builder turns NaN into NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from llmobs_nb.demo import incidents as inc
from llmobs_nb.demo import profiles as prof

OK, RATE_LIMITED, TIMED_OUT = 0, 1, 2
NO_RUN = -1
PEAK_HOUR_UTC = 22


@dataclass
class Calls:
    """Per-call arrays, sorted by start time. Codes index the tuples in :mod:`profiles`."""

    start_us: np.ndarray  # trace start, microseconds since the epoch
    use_case: np.ndarray
    model: np.ndarray
    user: np.ndarray
    run: np.ndarray  # index into RUNS, NO_RUN outside the experiment
    rag: np.ndarray
    stream: np.ndarray
    status: np.ndarray  # OK, RATE_LIMITED or TIMED_OUT
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cached_input_tokens: np.ndarray
    cache_write_tokens: np.ndarray
    reasoning_tokens: np.ndarray
    latency_s: np.ndarray
    ttft_s: np.ndarray
    cost_usd: np.ndarray
    quality: np.ndarray  # the judge's score, NaN for failed calls

    def __len__(self) -> int:
        return len(self.start_us)


_US = 1_000_000
_N_MODELS = len(prof.MODELS)
_MODEL = {name: i for i, name in enumerate(prof.MODEL_NAMES)}
_USE_CASE = {name: i for i, name in enumerate(prof.USE_CASE_NAMES)}
_PROVIDER = np.array([m.provider for m in prof.MODELS])


def epoch_us(t: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    return round(t.timestamp() * _US)


def _hourly_weights(start: datetime, days: int) -> np.ndarray:
    # The users work on US Pacific time: a smooth daily cycle peaking at 22:00 UTC (afternoon in
    # California), 3:1 against 10:00 UTC, and quieter weekends. A sinusoid, not a narrow
    # working-hours bump: against a trailing 24 h median its peak stays about one robust z-score
    # high, so ordinary afternoons do not look like cost anomalies; and the first 12 h of a
    # midnight-UTC start (falling, then rising) give a detector's first verdicts a fair history.
    hours = np.datetime64(start.replace(tzinfo=None), "h") + np.arange(days * 24)
    hour_of_day = hours.astype(np.int64) % 24
    weekday = (hours.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01: Thursday
    shape = 1.0 + 0.5 * np.cos(2 * np.pi * (hour_of_day - PEAK_HOUR_UTC) / 24)
    weights = shape * np.where(weekday >= 5, 0.6, 1.0)
    return weights / weights.sum()


def _pick(rng: np.random.Generator, probabilities: np.ndarray, rows: np.ndarray) -> np.ndarray:
    # One categorical draw per element, each from its own row of ``probabilities``.
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[cumulative > 1.0 - 1e-9] = 1.0
    u = rng.random(len(rows))
    return (u[:, None] >= cumulative[rows]).sum(axis=1)


def _lognormal(
    rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float, n: int
) -> np.ndarray:
    return np.exp(np.log(median) + sigma * rng.standard_normal(n))


def _who_and_when(rng: np.random.Generator, n: int, start: datetime, days: int) -> dict:
    hour = rng.choice(days * 24, size=n, p=_hourly_weights(start, days))
    offset_s = (hour + rng.random(n)) * 3600.0
    use_case = rng.choice(len(prof.USE_CASES), size=n, p=[u.share for u in prof.USE_CASES])
    mix = np.array([[u.models.get(m, 0.0) for m in prof.MODEL_NAMES] for u in prof.USE_CASES])
    model = _pick(rng, mix, use_case)
    user = rng.choice(prof.N_USERS, size=n, p=prof.USER_SHARES)
    in_experiment = (use_case == _USE_CASE[prof.EXPERIMENT_USE_CASE]) & (
        rng.random(n) < prof.EXPERIMENT_SHARE
    )
    run = np.where(in_experiment, rng.integers(0, len(prof.RUNS), n), NO_RUN)
    return {
        "start_us": epoch_us(start) + np.rint(offset_s * _US).astype(np.int64),
        "use_case": use_case,
        "model": model,
        "user": user,
        "run": run,
        "spike": np.zeros(n, dtype=bool),
    }


def _runaway_job(rng: np.random.Generator, hour: datetime) -> dict:
    n = inc.SPIKE_CALLS
    offset_s = np.sort(rng.random(n)) * 3500.0  # back to back, inside the hour
    return {
        "start_us": epoch_us(hour) + np.rint(offset_s * _US).astype(np.int64),
        "use_case": np.full(n, _USE_CASE[inc.SPIKE_USE_CASE]),
        "model": np.full(n, _MODEL[inc.SPIKE_MODEL]),
        "user": np.full(n, prof.USER_IDS.index(inc.SPIKE_USER)),
        "run": np.full(n, NO_RUN),
        "spike": np.ones(n, dtype=bool),
    }


def _tokens(rng: np.random.Generator, who: dict) -> dict:
    n = len(who["start_us"])
    uc, model, spike = who["use_case"], who["model"], who["spike"]
    ucs = prof.USE_CASES
    in_median = np.where(spike, inc.SPIKE_INPUT_MEDIAN, np.array([u.input_median for u in ucs])[uc])
    in_sigma = np.where(spike, 0.15, np.array([u.input_sigma for u in ucs])[uc])
    out_median = np.where(
        spike, inc.SPIKE_OUTPUT_MEDIAN, np.array([u.output_median for u in ucs])[uc]
    )
    out_median = out_median * np.where(who["run"] == 1, prof.V2_OUTPUT_FACTOR, 1.0)
    out_sigma = np.array([u.output_sigma for u in ucs])[uc]
    input_tokens = np.clip(np.rint(_lognormal(rng, in_median, in_sigma, n)), 30, 150_000)
    output_tokens = np.clip(np.rint(_lognormal(rng, out_median, out_sigma, n)), 1, 8_000)

    # Prompt caching as each provider reports it: OpenAI caches reads in 128-token blocks from
    # 1,024 tokens on and reports no writes; Anthropic reports reads and writes; self-hosted
    # reports neither. The runaway job never hits the cache (every document is new).
    provider = _PROVIDER[model]
    openai, anthropic = provider == "openai", provider == "anthropic"
    share = rng.uniform(0.4, 0.9, n)
    hit = (rng.random(n) < 0.35) & (input_tokens >= 1024) & ~spike
    openai_read = np.clip(np.floor(input_tokens * share / 128) * 128, 1024, input_tokens)
    cached = np.where(openai & hit, openai_read, 0.0)
    cached = np.where(anthropic & hit, np.floor(input_tokens * share), cached)
    write = anthropic & ~hit & (rng.random(n) < 0.15) & ~spike
    cache_write = np.where(write, np.floor(input_tokens * rng.uniform(0.3, 0.7, n)), 0.0)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": np.where(openai | anthropic, cached, np.nan),
        "cache_write_tokens": np.where(anthropic, cache_write, np.nan),
        "reasoning_tokens": np.where(openai, 0.0, np.nan),
    }


def _outcome(rng: np.random.Generator, who: dict) -> np.ndarray:
    n = len(who["start_us"])
    rate_limit_share = np.where(who["spike"], inc.SPIKE_RATE_LIMIT_SHARE, prof.RATE_LIMIT_SHARE)
    timeout_share = np.where(who["spike"], 0.0, prof.TIMEOUT_SHARE)
    u = rng.random(n)
    status = np.full(n, OK)
    status[u < rate_limit_share] = RATE_LIMITED
    status[(u >= rate_limit_share) & (u < rate_limit_share + timeout_share)] = TIMED_OUT
    return status


def _timing(
    rng: np.random.Generator,
    who: dict,
    tokens: dict,
    status: np.ndarray,
    sched: inc.Schedule | None,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(status)
    model = who["model"]
    ttft_median = np.array([m.ttft_s for m in prof.MODELS])[model]
    speed = np.array([m.tokens_per_s for m in prof.MODELS])[model]
    ttft = (
        _lognormal(rng, ttft_median, 0.35, n) + tokens["input_tokens"] / prof.PREFILL_TOKENS_PER_S
    )
    decode = tokens["output_tokens"] / _lognormal(rng, speed, 0.2, n)
    latency = ttft + decode
    if sched is not None:
        slow = (
            (model == _MODEL[inc.LATENCY_MODEL])
            & (who["start_us"] >= epoch_us(sched.latency_start))
            & (who["start_us"] < epoch_us(sched.latency_end))
        )
        ttft = np.where(slow, ttft * inc.LATENCY_FACTOR, ttft)
        latency = np.where(slow, latency * inc.LATENCY_FACTOR, latency)
    rejected = _lognormal(rng, 0.12, 0.5, n)  # a 429 comes back fast
    timed_out = prof.TIMEOUT_S + rng.uniform(0.0, 0.3, n)
    latency = np.select(
        [status == RATE_LIMITED, status == TIMED_OUT], [rejected, timed_out], latency
    )
    ttft = np.where((status == OK) & who["stream"], ttft, np.nan)
    return latency, ttft


def _cost(
    tokens: dict, model: np.ndarray, status: np.ndarray, rates: prof.TokenRates
) -> np.ndarray:
    cached = np.nan_to_num(tokens["cached_input_tokens"])
    written = np.nan_to_num(tokens["cache_write_tokens"])
    fresh = tokens["input_tokens"] - cached - written
    usd = (
        fresh * rates.input[model]
        + cached * rates.cache_read[model]
        + written * rates.cache_write[model]
        + tokens["output_tokens"] * rates.output[model]
    )
    return np.where(status == OK, usd, np.nan)


def _quality(
    rng: np.random.Generator, who: dict, status: np.ndarray, sched: inc.Schedule | None
) -> np.ndarray:
    model, uc = who["model"], who["use_case"]
    mean = np.array([m.quality for m in prof.MODELS])[model]
    mean = mean + np.array([u.quality_shift for u in prof.USE_CASES])[uc]
    mean = mean + np.where(who["run"] == 1, prof.V2_QUALITY_DELTA, 0.0)
    if sched is not None:
        degraded = (
            (model == _MODEL[inc.REGRESSION_MODEL])
            & (uc == _USE_CASE[inc.REGRESSION_USE_CASE])
            & (who["start_us"] >= epoch_us(sched.regression_start))
        )
        mean = np.where(degraded, inc.DEGRADED_QUALITY, mean)
    k = prof.JUDGE_CONCENTRATION
    score = np.round(rng.beta(mean * k, (1.0 - mean) * k), 2)
    return np.where(status == OK, score, np.nan)


def draw_calls(
    rng: np.random.Generator,
    n_calls: int,
    start: datetime,
    days: int,
    sched: inc.Schedule | None,
    rates: prof.TokenRates,
) -> Calls:
    """Draw ``n_calls`` LLM calls over ``days`` days from ``start``, with incidents if ``sched``,
    priced at ``rates``.

    Example: ``len(draw_calls(rng, 100, start, 1, None, token_rates(start))) == 100``.
    """
    n_spike = inc.SPIKE_CALLS if sched is not None else 0
    who = _who_and_when(rng, n_calls - n_spike, start, days)
    if sched is not None:
        job = _runaway_job(rng, sched.spike_hour)
        who = {k: np.concatenate([who[k], job[k]]) for k in who}
    order = np.argsort(who["start_us"], kind="stable")
    who = {k: v[order] for k, v in who.items()}
    n = n_calls
    who["rag"] = np.array([u.rag for u in prof.USE_CASES])[who["use_case"]]
    stream_share = np.array([u.stream_share for u in prof.USE_CASES])[who["use_case"]]
    who["stream"] = (rng.random(n) < stream_share) & ~who["spike"]

    tokens = _tokens(rng, who)
    status = _outcome(rng, who)
    latency, ttft = _timing(rng, who, tokens, status, sched)
    cost = _cost(tokens, who["model"], status, rates)
    quality = _quality(rng, who, status, sched)
    failed = status != OK
    tokens = {k: np.where(failed, np.nan, v) for k, v in tokens.items()}
    return Calls(
        start_us=who["start_us"],
        use_case=who["use_case"],
        model=who["model"],
        user=who["user"],
        run=who["run"],
        rag=who["rag"],
        stream=who["stream"],
        status=status,
        latency_s=latency,
        ttft_s=ttft,
        cost_usd=cost,
        quality=quality,
        **tokens,
    )
