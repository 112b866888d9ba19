"""``generate``: realistic synthetic LLM traffic with known, injected incidents."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from llmobs_nb.demo import agents as agent_traffic
from llmobs_nb.demo import frames, schema
from llmobs_nb.demo import incidents as inc
from llmobs_nb.demo.incidents import (
    CostSpike,
    LatencyIncident,
    QualityRegression,
    RunExperiment,
    ToolLoop,
    Truth,
)
from llmobs_nb.demo.profiles import (
    EXPERIMENT_USE_CASE,
    RUNS,
    V2_OUTPUT_FACTOR,
    V2_QUALITY_DELTA,
    token_rates,
)
from llmobs_nb.demo.traffic import draw_calls
from llmobs_nb.demo.writing import SampleData, check_target, write_tables
from llmobs_nb.observer import Observer
from llmobs_nb.store import Store

MIN_CALLS_WITH_INCIDENTS = 1_000
# The agent sessions are drawn from a generator of their own (seeded with the seed and this
# number), so the rest of the traffic is the same with or without them.
AGENT_STREAM = 15


def _check(n_calls: int, days: int, incidents_on: bool, agents: bool) -> None:
    if not isinstance(agents, bool):
        raise TypeError(f"agents={agents!r}: pass True or False")
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"days={days!r}: pass a whole number of days, 1 or more")
    if not isinstance(n_calls, int) or n_calls < 1:
        raise ValueError(f"n_calls={n_calls!r}: pass a whole number of calls, 1 or more")
    if incidents_on and n_calls < MIN_CALLS_WITH_INCIDENTS:
        raise ValueError(
            f"n_calls={n_calls} is too few to show the injected incidents: pass "
            f"n_calls >= {MIN_CALLS_WITH_INCIDENTS}, or incidents=False"
        )


def _start(start: datetime | None, days: int) -> datetime:
    if start is None:
        today = datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
        return today - timedelta(days=days)
    if not isinstance(start, datetime):
        raise TypeError(f"start={start!r}: pass a datetime, e.g. datetime(2025, 1, 6, tzinfo=UTC)")
    # Naive datetimes are read as UTC, as everywhere in the store.
    aware = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def _spike_usd(calls: pl.DataFrame, user_id: str, hour: datetime) -> float:
    in_hour = calls.filter(
        (pl.col("user_id") == user_id)
        & (pl.col("start_time") >= hour)
        & (pl.col("start_time") < hour + timedelta(hours=1))
    )
    return float(in_hour["cost_usd"].sum())


def _truth(
    sched: inc.Schedule | None, calls: pl.DataFrame, end: datetime, tool_loop: ToolLoop | None
) -> Truth:
    experiment = RunExperiment(
        baseline=RUNS[0],
        candidate=RUNS[1],
        use_case=EXPERIMENT_USE_CASE,
        quality_delta=V2_QUALITY_DELTA,
        output_tokens_factor=V2_OUTPUT_FACTOR,
    )
    if sched is None:
        return Truth(None, None, None, experiment)
    return Truth(
        quality_regression=QualityRegression(
            model=inc.REGRESSION_MODEL,
            use_case=inc.REGRESSION_USE_CASE,
            score_name=inc.REGRESSION_SCORE,
            start=sched.regression_start,
            end=end,
            baseline_mean=inc.BASELINE_QUALITY,
            degraded_mean=inc.DEGRADED_QUALITY,
        ),
        cost_spike=CostSpike(
            user_id=inc.SPIKE_USER,
            hour=sched.spike_hour,
            usd=_spike_usd(calls, inc.SPIKE_USER, sched.spike_hour),
            model=inc.SPIKE_MODEL,
            n_calls=inc.SPIKE_CALLS,
        ),
        latency_incident=LatencyIncident(
            model=inc.LATENCY_MODEL,
            start=sched.latency_start,
            end=sched.latency_end,
            factor=inc.LATENCY_FACTOR,
        ),
        experiment=experiment,
        tool_loop=tool_loop,
    )


def generate(
    n_calls: int = 20_000,
    *,
    days: int = 7,
    seed: int = 0,
    start: datetime | None = None,
    incidents: bool = True,
    agents: bool = False,
    store: str | Path | Observer | Store | None = None,
    project: str = "demo",
) -> SampleData:
    """Generate ``n_calls`` LLM calls over ``days`` days from ``start``, with their spans and
    scores, and return them (and write them to ``store`` when given) with the ground truth.

    Traffic: 5 models (4 priced with genai-prices, one self-hosted and unpriced), 4 use cases
    (two RAG pipelines: retrieval → rerank → generation, two plain chats), 40 users, a
    ``prompt-v1``/``prompt-v2`` experiment on docs_qa, ~1.5% rate-limit and timeout errors,
    log-normal latency and TTFT, a daily cycle peaking at 22:00 UTC (US Pacific afternoon) and
    quieter weekends. ``incidents=True`` injects a quality regression, one user's cost spike
    and a latency incident, described by ``.truth``. Same ``seed`` and ``start`` give the same
    frames; ``start`` defaults to midnight UTC ``days`` days ago. ``store`` is a DuckDB file
    path, an Observer or a Store.

    ``agents=True`` adds agent sessions besides the ``n_calls`` calls (so ``calls`` has more
    rows): one session per 100 calls, each 2 to 10 turns by one user, each turn a trace whose
    root is the ``support_agent`` agent span, with model calls, tool spans (``search_docs``,
    ``get_order``, ``refund``) and a ``researcher`` sub-agent (``web_search``); use case
    ``agent``, every span with its ``session_id`` and ``agent_name``, tool arguments and
    results as text, no scores. With incidents, ``truth.tool_loop`` describes a tool loop in 3
    more sessions. The rest of the traffic, scores and truth are the same as without agents.

    Without incidents, the default size keeps every user's hourly cost far below 5 USD, the
    hourly total below 10 USD and the daily total below 100 USD (about 16 USD a day at 20,000
    calls over 7 days). Above roughly 15,000 calls a day the daily total passes 100 USD, and
    above roughly 25,000 the peak hour passes 10 USD, because the traffic itself costs that.

    Example::

        sample = generate(20_000, days=7, seed=1, start=datetime(2025, 3, 3, tzinfo=UTC))
        sample.calls.group_by("model").len()
        sample.truth.quality_regression.start
    """
    _check(n_calls, days, incidents, agents)
    if store is not None:
        check_target(store)  # before the work, not after it
    period_start = _start(start, days)
    period_end = period_start + timedelta(days=days)
    rng = np.random.default_rng(seed)
    sched = inc.schedule(period_start, days) if incidents else None
    rates = token_rates(period_start)
    calls_drawn = draw_calls(rng, n_calls, period_start, days, sched, rates)
    spans, llm_ids = frames.build_spans(rng, calls_drawn, project, rates)
    scores = frames.build_scores(rng, calls_drawn, llm_ids)
    runs = frames.build_runs(project, period_start, period_end)
    prices = frames.build_prices(rates, period_start)
    tool_loop = None
    if agents:
        agent_rng = np.random.default_rng([seed, AGENT_STREAM])
        traffic = agent_traffic.build_agent_traffic(
            agent_rng, n_calls, period_start, days, sched, rates, project
        )
        spans = pl.concat([spans, traffic.spans]).sort("start_time", maintain_order=True)
        tool_loop = traffic.tool_loop
    calls = schema.llm_calls(spans)
    sample = SampleData(
        spans=spans,
        calls=calls,
        scores=scores,
        runs=runs,
        prices=prices,
        truth=_truth(sched, calls, period_end, tool_loop),
        start=period_start,
        end=period_end,
    )
    if store is not None:
        write_tables(store, sample)
    return sample
