"""Batch evaluation of stored calls: resumable, concurrent for judges, with a progress bar."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import polars as pl

from llmobs_nb.analytics.engines import SqlEngine
from llmobs_nb.analytics.filter import WhereLike, split_where
from llmobs_nb.analytics.plan import Condition, Rows
from llmobs_nb.evals.protocol import CapturedCall, Evaluator, check_evaluators, source_of
from llmobs_nb.evals.score_rows import is_error, run_one, to_frame, to_table

log = logging.getLogger("llmobs_nb")

REFERENCE_ATTRIBUTE = "llmobs.reference"
Reference = Mapping[str, str] | Callable[[dict[str, Any]], str | None] | None


def _select_calls(obs: Any, where: WhereLike, kinds: Sequence[str] | None) -> pl.DataFrame:
    columns = obs.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'spans'"
    )["column_name"].to_list()
    conditions, exprs = split_where(where, columns, table="spans")
    wanted = [Condition("output_text", "not_null")]
    if kinds is not None:
        wanted.append(Condition("kind", "in", (kinds,) if isinstance(kinds, str) else kinds))
    plan = Rows(None, (*wanted, *conditions), table="spans", order_by=("start_time", "span_id"))
    calls = SqlEngine(obs.sql).run(plan)
    for expr in exprs:
        try:
            calls = calls.filter(expr)
        except pl.exceptions.PolarsError as error:
            raise ValueError(
                f"where= expression {expr} does not apply to the spans columns: {error}"
            ) from None
    return calls


def _sample(calls: pl.DataFrame, sample: int | float | None, seed: int) -> pl.DataFrame:
    if sample is None:
        return calls
    if isinstance(sample, bool) or not isinstance(sample, int | float):
        raise TypeError(f"sample= must be a count (int) or a fraction (float), got {sample!r}")
    if isinstance(sample, int):
        if sample < 1:
            raise ValueError(f"sample={sample} must be >= 1 calls")
        picked = calls.sample(n=min(sample, calls.height), seed=seed)
    else:
        if not 0.0 < sample <= 1.0:
            raise ValueError(f"sample={sample} as a fraction must be in (0, 1]")
        picked = calls.sample(fraction=sample, seed=seed)
    # Same seed, same calls: a resumed sampled run finishes the same sample.
    return picked.sort(["start_time", "span_id"])


def _done_pairs(obs: Any, sources: list[str], retry_errors: bool) -> set[tuple[str, str]]:
    condition = " AND (value IS NOT NULL OR label IS NOT NULL)" if retry_errors else ""
    done = obs.sql(
        f"SELECT DISTINCT span_id, source FROM scores WHERE span_id IS NOT NULL "
        f"AND source IN ({', '.join('?' for _ in sources)}){condition}",
        sources,
    )
    return set(zip(done["span_id"].to_list(), done["source"].to_list(), strict=True))


def _reference_for(
    row: dict[str, Any], attributes: dict[str, Any], reference: Reference
) -> str | None:
    if reference is None:
        found = attributes.get(REFERENCE_ATTRIBUTE)
        return found if isinstance(found, str) else None
    if isinstance(reference, Mapping):
        return reference.get(row["span_id"])
    found = reference(row)
    if found is not None and not isinstance(found, str):
        raise TypeError(
            f"reference function returned {found!r} for span {row['span_id']}: return a str or None"
        )
    return found


def _captured(row: dict[str, Any], reference: Reference) -> CapturedCall:
    raw = row.get("attributes")
    try:
        attributes = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    except ValueError:
        attributes = {}
    return CapturedCall(
        span_id=row["span_id"],
        trace_id=row["trace_id"],
        input=row.get("input_text"),
        output=row.get("output_text"),
        attributes=attributes,
        reference=_reference_for(row, attributes, reference),
    )


def evaluate(
    obs: Any,
    evaluators: Sequence[Evaluator] | Evaluator,
    *,
    where: WhereLike = None,
    sample: int | float | None = None,
    kinds: Sequence[str] | None = ("llm",),
    reference: Reference = None,
    concurrency: int = 1,
    progress: bool = True,
    batch_size: int = 500,
    retry_errors: bool = False,
    seed: int = 0,
) -> pl.DataFrame:
    """Run ``evaluators`` over stored calls with captured content; return the new scores.

    Calls are spans of ``kinds`` (``None``: any kind but evaluator spans count too) whose
    answer text was captured, filtered by ``where`` — an ``analytics.Filter`` (time range,
    models, runs...), a dict of column → value over the ``spans`` columns (a list means IN,
    None means IS NULL; sent as SQL parameters) and/or a polars expression, or a list of
    them — then optionally ``sample``d (a count or a fraction, reproducible with
    ``seed``). The reference answer comes from ``reference`` (a dict span_id → text, or a
    function of the span row), else from the span attribute ``llmobs.reference``.

    Resumable: (span, evaluator@version) pairs that already have a score are skipped, and
    scores are written every ``batch_size`` rows, so an interrupted run keeps what it finished.
    A failed evaluation is stored as a row with value NULL and the error in ``comment`` —
    never a fake score — and, with ``retry_errors=True``, is tried again (its old error row is
    replaced). ``concurrency`` > 1 runs evaluations in threads (for LLM judges).

    Returns a polars frame of the new score rows (the ``scores`` columns plus ``error``).

    Example:
        >>> from llmobs_nb.evals import NonEmpty, Refusal, evaluate
        >>> new = evaluate(obs, [NonEmpty(), Refusal()], where={"run": "v2"})  # doctest: +SKIP
        >>> new.group_by("name").agg(pl.col("value").mean())  # doctest: +SKIP
    """
    if getattr(obs, "read_only", False):
        raise PermissionError(
            f"evaluate() writes scores, and this observer of {obs.db_path} is read-only: "
            f"use llmobs_nb.init(db=...) in the process that owns the file"
        )
    checked = check_evaluators(evaluators)
    bound = [e.bind(obs) if callable(getattr(e, "bind", None)) else e for e in checked]
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if reference is not None and not isinstance(reference, Mapping) and not callable(reference):
        raise TypeError(
            f"reference= must be a dict span_id -> text or a function, got {reference!r}"
        )

    sources = [source_of(e) for e in bound]
    calls = _sample(_select_calls(obs, where, kinds), sample, seed)
    if retry_errors and calls.height:
        # Retried pairs get a fresh row; the old error rows of those pairs go.
        obs.store.execute(
            f"DELETE FROM scores WHERE value IS NULL AND label IS NULL "
            f"AND source IN ({', '.join('?' for _ in sources)}) "
            f"AND span_id IN (SELECT unnest(?))",
            [*sources, calls["span_id"].to_list()],
        )
    done = _done_pairs(obs, sources, retry_errors=False)
    pending = [
        [e for e, s in zip(bound, sources, strict=True) if (row["span_id"], s) not in done]
        for row in calls.select("span_id").iter_rows(named=True)
    ]
    total = sum(len(p) for p in pending)

    def tasks() -> Iterator[tuple[Evaluator, CapturedCall]]:
        for row, todo in zip(calls.iter_rows(named=True), pending, strict=True):
            if todo:
                call = _captured(row, reference)
                for evaluator in todo:
                    yield evaluator, call

    from tqdm.auto import tqdm

    new_rows: list[dict[str, Any]] = []
    buffer: list[dict[str, Any]] = []
    errors = 0
    bar = tqdm(total=total, disable=not progress, unit="eval", desc="evaluate")

    def take(rows: list[dict[str, Any]]) -> None:
        nonlocal errors, buffer
        failed = sum(is_error(r) for r in rows)
        errors += failed
        buffer.extend(rows)
        bar.update(1)
        if failed:
            bar.set_postfix(errors=errors, refresh=False)
        if len(buffer) >= batch_size:
            obs.store.write_scores(to_table(buffer))
            new_rows.extend(buffer)
            buffer = []

    try:
        if concurrency == 1:
            for evaluator, call in tasks():
                take(run_one(evaluator, call))
        else:
            _run_threads(tasks(), concurrency, take)
    finally:
        # Interrupted or not, what was finished is kept.
        if buffer:
            obs.store.write_scores(to_table(buffer))
            new_rows.extend(buffer)
        bar.close()
    if errors:
        log.warning(
            "%d of %d evaluations failed; they are stored with value NULL and the error in "
            "comment (error=True in the returned frame)",
            errors,
            total,
        )
    return to_frame(new_rows)


def _run_threads(
    tasks: Iterator[tuple[Evaluator, CapturedCall]],
    concurrency: int,
    take: Callable[[list[dict[str, Any]]], None],
) -> None:
    # A bounded window of futures: a million pending evaluations never become a million
    # futures, and results are written (by this thread only) as they complete.
    window = concurrency * 4
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llmobs-eval") as pool:
        running: set[Future[list[dict[str, Any]]]] = set()
        try:
            for evaluator, call in tasks:
                running.add(pool.submit(run_one, evaluator, call))
                if len(running) >= window:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        take(future.result())
            for future in list(running):
                take(future.result())
                running.discard(future)
        finally:
            for future in running:
                future.cancel()
