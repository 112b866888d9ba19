"""Turn the drawn calls into the store's tables: spans (RAG pipelines and plain chats), scores
and runs, as polars frames with the store's columns and dtypes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from llmobs_nb.capture import semconv
from llmobs_nb.demo import ids, profiles, schema, texts
from llmobs_nb.demo.traffic import NO_RUN, OK, Calls, epoch_us

_US = 1_000_000
# Indexed by status code: OK, RATE_LIMITED, TIMED_OUT.
_ERROR_TYPES = [None, "RateLimitError", "APITimeoutError"]
_ERROR_MESSAGES = [None, "Error code: 429 - Rate limit reached for requests", "Request timed out."]

# Span kinds as codes; the stage lists below are indexed by them.
CHAIN, RETRIEVAL, RERANK, LLM = 0, 1, 2, 3
KINDS = ("chain", "retrieval", "rerank", "llm")
STAGE_NAMES = ("rag_pipeline", "retrieve_documents", "rerank")
STAGE_ATTRIBUTES = (
    '{"rag.top_k":20,"rag.top_n":5}',
    '{"db.system":"qdrant","retrieval.top_k":20}',
    '{"rerank.model":"bge-reranker-v2-m3","rerank.top_n":5}',
)
_QUESTIONS = [q for case in texts.QUESTIONS for q in case]
_ANSWERS = [a for case in texts.GOOD_ANSWERS for a in case] + list(texts.POOR_ANSWERS)

# Share of successful calls that carry text, that get a groundedness score (RAG only), and that
# get a thumbs up or down from the user (RAG only: those are the chat-facing use cases).
CONTENT_SHARE = 0.01
GROUNDEDNESS_SHARE = 0.30
FEEDBACK_SHARE = 0.03


def _labels(names: list[str | None], codes: np.ndarray, null: np.ndarray | None = None):
    labels = pl.Series(values=names, dtype=pl.String).gather(codes)
    return labels if null is None else labels.set(pl.Series(null), None)


def _nullable(values: np.ndarray, dtype: type[pl.DataType] | pl.DataType = pl.Float64) -> pl.Series:
    return pl.Series(values).fill_nan(None).cast(dtype)


def timestamps(us: np.ndarray) -> pl.Series:
    """Microseconds since the epoch as a ``Datetime("us", "UTC")`` Series."""
    return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _table(columns: dict, literals: dict, table_schema: dict[str, pl.DataType]) -> pl.DataFrame:
    # Columns given as Series, the rest constant (or NULL), all cast to the store's dtypes.
    frame = pl.DataFrame(columns)
    return frame.select(
        (pl.col(c) if c in columns else pl.lit(literals.get(c))).cast(dtype).alias(c)
        for c, dtype in table_schema.items()
    )


def _llm_attributes() -> list[str]:
    # Attributes depend only on (model, stream): one JSON text per pair, picked per row, which
    # costs a gather instead of a json.dumps per row. Index: model * 2 + stream.
    return [
        json.dumps(
            {
                semconv.GEN_AI_PROVIDER_NAME: m.provider,
                semconv.GEN_AI_REQUEST_MODEL: m.name,
                semconv.GEN_AI_OPERATION_NAME: "chat",
                semconv.LLMOBS_STREAM: stream,
            },
            separators=(",", ":"),
        )
        for m in profiles.MODELS
        for stream in (False, True)
    ]


def _content(rng: np.random.Generator, calls: Calls) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Per call: which question and answer text it carries, and whether it carries any.
    n = len(calls)
    per_case = len(texts.QUESTIONS[0])
    pick = rng.integers(0, per_case, n)
    shown = (calls.status == OK) & (rng.random(n) < CONTENT_SHARE)
    question = calls.use_case * per_case + pick
    n_good = len(texts.QUESTIONS) * per_case
    answer = np.where(calls.quality >= 0.6, question, n_good + pick % len(texts.POOR_ANSWERS))
    return question, answer, shown


@dataclass
class LLMSpanIds:
    """Trace id, span id and end time of each call's LLM span, in call order (for scores)."""

    trace_id: pl.Series
    span_id: pl.Series
    end_us: np.ndarray


def build_spans(
    rng: np.random.Generator, calls: Calls, project: str, rates: profiles.TokenRates
) -> tuple[pl.DataFrame, LLMSpanIds]:
    """All spans of the calls, sorted by start time, and the ids of the LLM spans.

    A RAG call is a trace of four spans: a ``chain`` root with ``retrieval``, ``rerank`` and
    ``llm`` children, one after the other; a plain chat call is a trace of one ``llm`` span.

    Example: ``spans, llm_ids = build_spans(rng, calls, "demo", token_rates(start))``.
    """
    n = len(calls)
    rag = np.flatnonzero(calls.rag)
    n_rag = len(rag)
    trace_high, trace_low = ids.unique_words(rng, n), ids.unique_words(rng, n)
    words = ids.unique_words(rng, n + 3 * n_rag)
    llm_word, chain_word = words[:n], words[n : n + n_rag]

    def micros(seconds: np.ndarray) -> np.ndarray:
        return np.rint(seconds * _US).astype(np.int64)

    # RAG timeline: retrieve, then rerank, then generate, each a moment after the last.
    t0 = calls.start_us
    retrieval_start = t0[rag] + micros(rng.uniform(0.001, 0.003, n_rag))
    retrieval_end = retrieval_start + micros(np.exp(np.log(0.09) + 0.4 * rng.normal(size=n_rag)))
    rerank_start = retrieval_end + micros(rng.uniform(0.0005, 0.002, n_rag))
    rerank_end = rerank_start + micros(np.exp(np.log(0.15) + 0.3 * rng.normal(size=n_rag)))
    llm_start = t0.copy()
    llm_start[rag] = rerank_end + micros(rng.uniform(0.001, 0.004, n_rag))
    llm_end = llm_start + micros(calls.latency_s)
    chain_end = llm_end[rag] + micros(rng.uniform(0.001, 0.003, n_rag))
    llm_parent = np.zeros(n, dtype=np.uint64)
    llm_parent[rag] = chain_word

    # One element per span, blocks llm | chain | retrieval | rerank, then sorted by start time.
    blocks = [np.arange(n), rag, rag, rag]
    call = np.concatenate(blocks)
    kind = np.repeat([LLM, CHAIN, RETRIEVAL, RERANK], [len(b) for b in blocks])
    start = np.concatenate([llm_start, t0[rag], retrieval_start, rerank_start])
    end = np.concatenate([llm_end, chain_end, retrieval_end, rerank_end])
    parent = np.concatenate([llm_parent, np.zeros(n_rag, np.uint64), chain_word, chain_word])
    order = np.argsort(start, kind="stable")
    call, kind, start, end = call[order], kind[order], start[order], end[order]
    span_word, parent = words[order], parent[order]

    is_llm = kind == LLM
    not_llm = ~is_llm
    model = calls.model[call]
    status = np.where(is_llm | (kind == CHAIN), calls.status[call], OK)
    question, answer, shown = _content(rng, calls)
    no_text = ~(is_llm & shown[call])
    n_models = len(profiles.MODELS)
    trace_id = ids.to_hex(trace_high, trace_low)  # per call, cheaper to encode than per span

    def per_llm(values: np.ndarray, dtype: pl.DataType) -> pl.Series:
        return _nullable(np.where(is_llm, values[call], np.nan), dtype)

    spans = _table(
        {
            "trace_id": trace_id.gather(call),
            "span_id": ids.to_hex(span_word),
            "parent_span_id": ids.to_hex(parent).set(pl.Series(parent == 0), None),
            "name": _labels(
                [f"chat {m}" for m in profiles.MODEL_NAMES] + list(STAGE_NAMES),
                np.where(is_llm, model, n_models + kind),
            ),
            "kind": _labels(list(KINDS), kind),
            "start_time": timestamps(start),
            "end_time": timestamps(end),
            "latency_s": pl.Series((end - start) / _US),
            "ttft_s": per_llm(calls.ttft_s, pl.Float64()),
            "provider": _labels([m.provider for m in profiles.MODELS], model, not_llm),
            "model": _labels(list(profiles.MODEL_NAMES), model, not_llm),
            "response_model": _labels(
                [m.response_model for m in profiles.MODELS], model, not_llm | (status != OK)
            ),
            "operation": _labels(["chat"], np.zeros(len(call), np.int64), not_llm),
            "use_case": _labels(list(profiles.USE_CASE_NAMES), calls.use_case[call]),
            "user_id": _labels(list(profiles.USER_IDS), calls.user[call]),
            "run": _labels(
                list(profiles.RUNS), np.maximum(calls.run[call], 0), calls.run[call] == NO_RUN
            ),
            "status": _labels(["ok", "error", "error"], status),
            "error_type": _labels(_ERROR_TYPES, status),
            "error_message": _labels(_ERROR_MESSAGES, status),
            "input_tokens": per_llm(calls.input_tokens, pl.Int64()),
            "output_tokens": per_llm(calls.output_tokens, pl.Int64()),
            "cached_input_tokens": per_llm(calls.cached_input_tokens, pl.Int64()),
            "cache_write_tokens": per_llm(calls.cache_write_tokens, pl.Int64()),
            "reasoning_tokens": per_llm(calls.reasoning_tokens, pl.Int64()),
            "cost_usd": per_llm(calls.cost_usd, pl.Float64()),
            "price_version": _labels(
                [None if p is None else p.version for p in rates.prices],
                model,
                not_llm | np.isnan(calls.cost_usd[call]),
            ),
            "input_text": _labels(_QUESTIONS, question[call], no_text),
            "output_text": _labels(_ANSWERS, answer[call], no_text),
            "attributes": _labels(
                _llm_attributes() + list(STAGE_ATTRIBUTES),
                np.where(is_llm, model * 2 + calls.stream[call], 2 * n_models + kind),
            ),
        },
        {"project": project},
        schema.SPANS,
    )
    llm_ids = LLMSpanIds(trace_id, ids.to_hex(llm_word), llm_end)
    return spans, llm_ids


def build_scores(rng: np.random.Generator, calls: Calls, llm_ids: LLMSpanIds) -> pl.DataFrame:
    """Scores of the successful LLM calls, sorted by ``created_at``: ``quality`` (llm_judge) on
    every one, ``groundedness`` (heuristic) on 30% of RAG answers, ``helpfulness`` (human, 1.0 or
    0.0, labelled thumbs_up or thumbs_down) on 3% of RAG answers.

    Example: ``build_scores(rng, calls, llm_ids)["name"].unique()``.
    """
    n = len(calls)
    ok = calls.status == OK
    u = rng.random(n)
    rag_ok = ok & calls.rag
    groundedness = np.clip(
        np.round(0.45 + 0.5 * calls.quality + 0.06 * rng.standard_normal(n), 2), 0.0, 1.0
    )
    thumbs_up = (rng.random(n) < calls.quality).astype(np.float64)
    complaint = rng.integers(0, len(texts.HUMAN_COMPLAINTS), n)

    parts = []
    starts = []
    for name, source, rows, values, delay_s, comments in (
        ("quality", "llm_judge", ok, calls.quality, 4.0, None),
        ("groundedness", "heuristic", rag_ok & (u < GROUNDEDNESS_SHARE), groundedness, 1.0, None),
        ("helpfulness", "human", rag_ok & (u > 1 - FEEDBACK_SHARE), thumbs_up, 45.0, complaint),
    ):
        idx = np.flatnonzero(rows)
        delay = np.exp(np.log(delay_s) + 0.5 * rng.standard_normal(len(idx)))
        created = llm_ids.end_us[idx] + np.rint(delay * _US).astype(np.int64)
        columns = {
            "trace_id": llm_ids.trace_id.gather(idx),
            "span_id": llm_ids.span_id.gather(idx),
            "value": pl.Series(values[idx]),
            "created_at": timestamps(created),
        }
        if comments is not None:  # thumbs: a label for each, a complaint with thumbs down
            liked = values[idx] == 1.0
            columns["comment"] = _labels(list(texts.HUMAN_COMPLAINTS), comments[idx], liked)
            columns["label"] = _labels(["thumbs_down", "thumbs_up"], liked.astype(np.int64))
        parts.append(_table(columns, {"name": name, "source": source}, schema.SCORES))
        starts.append(created)
    order = np.argsort(np.concatenate(starts), kind="stable")
    return pl.concat(parts)[order]


def build_prices(rates: profiles.TokenRates, recorded_at: datetime) -> pl.DataFrame:
    """The prices table rows behind the sample's ``price_version`` values, one per priced model.

    Example: ``build_prices(token_rates(start), start)["model"].to_list()``.
    """
    priced = [p for p in rates.prices if p is not None]
    columns = {
        "price_version": pl.Series([p.version for p in priced]),
        "provider": pl.Series([p.provider for p in priced], dtype=pl.String),
        "model": pl.Series([p.model for p in priced]),
        "source": pl.Series([p.source for p in priced]),
        "recorded_at": timestamps(np.full(len(priced), epoch_us(recorded_at))),
    }
    for field in (
        "input_mtok",
        "cached_input_mtok",
        "cache_write_mtok",
        "output_mtok",
        "reasoning_mtok",
    ):
        columns[field] = pl.Series([getattr(p, field) for p in priced], dtype=pl.Float64)
    return _table(columns, {}, schema.PRICES)


def build_runs(project: str, start: datetime, end: datetime) -> pl.DataFrame:
    """The runs table: one row per experiment arm, open for the whole period.

    Example: ``build_runs("demo", start, end)["name"].to_list() == ["prompt-v1", "prompt-v2"]``.
    """
    k = len(profiles.RUNS)
    return _table(
        {
            "name": pl.Series(profiles.RUNS),
            "params": pl.Series(profiles.RUN_PARAMS),
            "started_at": timestamps(np.full(k, epoch_us(start))),
            "ended_at": timestamps(np.full(k, epoch_us(end))),
        },
        {"project": project},
        schema.RUNS,
    )
