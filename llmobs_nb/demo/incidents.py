"""The incidents the demo injects, and the ground truth that says where they are.

Each incident is placed at a fixed fraction of the generated period, snapped to a clock time
a person would recognise, so the same ``start`` and ``days`` always give the same truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from llmobs_nb.view.html import format_cost

REGRESSION_MODEL = "gpt-4o-mini"
REGRESSION_USE_CASE = "customer_service"
REGRESSION_SCORE = "quality"
BASELINE_QUALITY = 0.85
# Well below 0.7 × baseline (0.595), so the seed rule fires on any 20-score window.
DEGRADED_QUALITY = 0.45

SPIKE_USER = "user-031"
SPIKE_MODEL = "claude-sonnet-4-5"
SPIKE_USE_CASE = "summarization"
SPIKE_CALLS = 150
SPIKE_INPUT_MEDIAN = 40_000
SPIKE_OUTPUT_MEDIAN = 900
SPIKE_RATE_LIMIT_SHARE = 0.10

LATENCY_MODEL = "gpt-4o"
LATENCY_FACTOR = 4.0
LATENCY_HOURS = 3

# A prompt release of the support agent that makes it retry an empty search instead of
# answering: in LOOP_SESSIONS extra sessions, the last turn calls the tool with the same
# arguments LOOP_MIN_CALLS to LOOP_MAX_CALLS times, each call followed by a model call.
LOOP_AGENT = "support_agent"
LOOP_TOOL = "search_docs"
LOOP_ARGUMENTS = '{"query": "refund policy"}'
LOOP_RESULT = '{"results": []}'
LOOP_ROUND_TOKENS = 60  # what each round adds to the context: the tool request, an empty result
LOOP_SESSIONS = 3
LOOP_MIN_CALLS = 12
LOOP_MAX_CALLS = 25
LOOP_HOURS = 2


class _ShownAsTable:
    """An incident in a notebook: a table of its fields, each in its unit (``usd`` as dollars,
    times as ``Nov 07 10:00``), instead of a dataclass repr."""

    def _repr_html_(self) -> str:
        from llmobs_nb.view.tables import record_table

        return record_table(self, title=type(self).__name__)._repr_html_()


@dataclass(frozen=True)
class QualityRegression(_ShownAsTable):
    """From ``start`` to ``end``, ``score_name`` of ``model`` on ``use_case`` has a lower mean.

    ``baseline_mean`` and ``degraded_mean`` are the true means the scores are drawn from.
    """

    model: str
    use_case: str
    score_name: str
    start: datetime
    end: datetime
    baseline_mean: float
    degraded_mean: float


@dataclass(frozen=True)
class CostSpike(_ShownAsTable):
    """In the hour starting at ``hour``, ``user_id`` spent ``usd`` (all their calls that hour).

    ``n_calls`` extra calls of ``model`` with very long inputs caused it (a runaway batch job).
    """

    user_id: str
    hour: datetime
    usd: float
    model: str
    n_calls: int


@dataclass(frozen=True)
class LatencyIncident(_ShownAsTable):
    """From ``start`` to ``end``, successful calls of ``model`` took ``factor`` times longer."""

    model: str
    start: datetime
    end: datetime
    factor: float


@dataclass(frozen=True)
class ToolLoop(_ShownAsTable):
    """From ``start`` to ``end``, ``agent`` looped on ``tool``: in the last turn (trace) of each
    of ``session_ids``, it called ``tool`` with the same ``arguments`` (its input text) over and
    over, each call followed by a model call, then answered.

    ``trace_ids[i]`` is the looping turn of ``session_ids[i]`` (by ``user_ids[i]``), with
    ``tool_calls[i]`` calls of the tool and ``tool_calls[i] + 1`` model calls, costing
    ``usd[i]``; ``total_usd`` is their sum. No other trace calls one tool more than three times.
    """

    agent: str
    tool: str
    arguments: str
    start: datetime
    end: datetime
    session_ids: tuple[str, ...]
    trace_ids: tuple[str, ...]
    user_ids: tuple[str, ...]
    tool_calls: tuple[int, ...]
    usd: tuple[float, ...]
    total_usd: float


@dataclass(frozen=True)
class RunExperiment(_ShownAsTable):
    """The A/B experiment: ``candidate`` vs ``baseline`` on part of ``use_case`` traffic.

    Over the whole period, the candidate's judge-score mean is higher by ``quality_delta`` and
    its outputs are ``output_tokens_factor`` times as long (so its calls are a bit faster).
    """

    baseline: str
    candidate: str
    use_case: str
    quality_delta: float
    output_tokens_factor: float


@dataclass(frozen=True)
class Truth:
    """What was injected: each incident, or None when generated with ``incidents=False``
    (``tool_loop`` also None without ``agents=True``)."""

    quality_regression: QualityRegression | None
    cost_spike: CostSpike | None
    latency_incident: LatencyIncident | None
    experiment: RunExperiment
    tool_loop: ToolLoop | None = None

    def table(self) -> pl.DataFrame:
        """One row per injected incident: what it is, when it starts and ends, in words.

        Example:
            >>> from llmobs_nb import demo
            >>> demo.generate(2_000, days=3, seed=1).truth.table()["incident"].to_list()
            ['quality regression', 'cost spike', 'latency incident', 'A/B experiment']
        """
        rows = []
        if (q := self.quality_regression) is not None:
            what = (
                f"{q.score_name} of {q.model} on {q.use_case}: mean "
                f"{q.baseline_mean:.2f} → {q.degraded_mean:.2f}"
            )
            rows.append(("quality regression", what, q.start, q.end))
        if (c := self.cost_spike) is not None:
            what = f"{c.user_id} spent {format_cost(c.usd)} in {c.n_calls} calls of {c.model}"
            rows.append(("cost spike", what, c.hour, c.hour + timedelta(hours=1)))
        if (lat := self.latency_incident) is not None:
            what = f"{lat.model} {lat.factor:g}× slower"
            rows.append(("latency incident", what, lat.start, lat.end))
        e = self.experiment
        what = (
            f"{e.candidate} vs {e.baseline} on {e.use_case}: quality {e.quality_delta:+.2f}, "
            f"outputs ×{e.output_tokens_factor:g}"
        )
        rows.append(("A/B experiment", what, None, None))
        if (loop := self.tool_loop) is not None:
            what = (
                f"{loop.agent} called {loop.tool} over and over in {len(loop.trace_ids)} "
                f"turns ({format_cost(loop.total_usd)})"
            )
            rows.append(("tool loop", what, loop.start, loop.end))
        return pl.DataFrame(
            rows,
            schema={
                "incident": pl.String,
                "what": pl.String,
                "start": pl.Datetime("us", "UTC"),
                "end": pl.Datetime("us", "UTC"),
            },
            orient="row",
        )

    def _repr_html_(self) -> str:
        from llmobs_nb.view.tables import table

        return table(self.table(), title="Injected incidents")._repr_html_()


@dataclass(frozen=True)
class Schedule:
    """When the incidents happen, decided from the period alone (before any traffic exists)."""

    regression_start: datetime
    spike_hour: datetime
    latency_start: datetime
    latency_end: datetime
    loop_start: datetime
    loop_end: datetime


def schedule(start: datetime, days: int) -> Schedule:
    """Place the incidents inside ``days`` days from ``start`` (midnight UTC is typical).

    Clock times are UTC; the demo's users work on US Pacific time (UTC-8). Latency incident
    17:00–20:00 (the Pacific morning) on the day 30% in; cost spike at 10:00 (a nightly batch
    job) on the day 45% in; quality regression from a 17:30 deploy on the day 60% in until the
    end; the agents' tool loop (with ``agents=True``) 20:00–22:00 (midday in California) on the
    day 75% in.

    Example: ``schedule(datetime(2025, 1, 1, tzinfo=UTC), 7).spike_hour`` is 2025-01-04 10:00.
    """

    def day(fraction: float) -> datetime:
        return start + timedelta(days=int(fraction * days))

    latency_start = day(0.30) + timedelta(hours=17)
    loop_start = day(0.75) + timedelta(hours=20)
    return Schedule(
        regression_start=day(0.60) + timedelta(hours=17, minutes=30),
        spike_hour=day(0.45) + timedelta(hours=10),
        latency_start=latency_start,
        latency_end=latency_start + timedelta(hours=LATENCY_HOURS),
        loop_start=loop_start,
        loop_end=loop_start + timedelta(hours=LOOP_HOURS),
    )
