"""Agent sessions for ``generate(agents=True)``: multi-turn conversations with a support agent,
its tools and a sub-agent, drawn vectorised like the rest of the demo.

A session is several turns by one user; each turn is a trace. Its root is the support agent's
span (``invoke_agent support_agent``, kind ``agent``), whose ReAct loop asks its model
(``chat gpt-4o``, kind ``llm``), runs the tool the model asked for (``execute_tool <tool>``,
kind ``tool``) and asks again, until the model answers. A research round hands the question to
``invoke_agent researcher``, which asks its own model, searches the web and answers. Every span
of a turn carries the session id, the user, use case ``agent`` and the agent it runs in
(``agent_name``); tool spans their ``tool_name``. The agent service runs with content capture
on: tool arguments and results are the tool spans' input and output text, the user's message
and the answer the model calls' (a model call that asks for a tool has no output text, as
capture stores it).

Turns are built from templates: each distinct sequence of rounds (0 to 3 rounds of 4 kinds: 85
templates, plus one per length of the injected tool loop) is laid out once, and a turn's spans
are its template's rows, gathered. Every property of the structure (parent, kind, agent, tool,
context size) is a gather; only sizes, durations and times are drawn.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from llmobs_nb.demo import ids, schema, texts
from llmobs_nb.demo import incidents as inc
from llmobs_nb.demo import profiles as prof
from llmobs_nb.demo.frames import _labels, _llm_attributes, _nullable, _table, timestamps
from llmobs_nb.demo.traffic import OK, _cost, _hourly_weights, _lognormal, epoch_us

_US = 1_000_000
AGENT, LLM, TOOL = 0, 1, 2  # span kind codes
KINDS = ("agent", "llm", "tool")
OPERATIONS = ("invoke_agent", "chat", "execute_tool")
SUPPORT, RESEARCHER = 0, 1  # agent codes, in profiles.AGENT_NAMES order
SEARCH, ORDER, REFUND, WEB = 0, 1, 2, 3  # tool codes, in profiles.TOOLS order
RESEARCH = 3  # the round kind that hands the question to the researcher
_ROUND_PREFIX = np.array([0, 1, 5, 21])  # first template with 0, 1, 2, 3 rounds
_N_NORMAL = 85  # 1 + 4 + 16 + 64 templates
_AGENT_MODEL = np.array([prof.MODEL_NAMES.index(m) for m in prof.AGENT_MODELS])
_PROVIDER = np.array([m.provider for m in prof.MODELS])
_TOOL_ATTRIBUTES = '{"gen_ai.tool.type":"function"}'


@dataclass(frozen=True)
class _Templates:
    """Every template's rows end to end; ``start``/``size`` say which rows are whose.

    Per row: kind, agent, tool (-1 if none), parent (row within the template, -1 for the
    root), the first and last leaf under it (itself for a leaf), the median context in tokens
    of a model call (the conversation's history excluded), whether a model call is its agent's
    answer, and whether a tool call is one of the injected loop's.
    """

    kind: np.ndarray
    agent: np.ndarray
    tool: np.ndarray
    parent: np.ndarray
    first_leaf: np.ndarray
    last_leaf: np.ndarray
    context: np.ndarray
    answer: np.ndarray
    loop: np.ndarray
    start: np.ndarray
    size: np.ndarray


def _turn_rows(rounds: list[int], loop: bool) -> list[tuple[int, int, int, int, int, bool]]:
    rows: list[tuple[int, int, int, int, int, bool]] = []  # kind, agent, tool, parent, ctx, ans

    def add(kind: int, agent: int, parent: int, tool: int = -1, ctx: int = 0, ans=False) -> int:
        rows.append((kind, agent, tool, parent, ctx, ans))
        return len(rows) - 1

    root = add(AGENT, SUPPORT, -1)
    context = prof.AGENT_PROMPT_TOKENS[SUPPORT]
    for kind in rounds:
        add(LLM, SUPPORT, root, ctx=context)
        if kind == RESEARCH:
            sub = add(AGENT, RESEARCHER, root)
            inner = prof.AGENT_PROMPT_TOKENS[RESEARCHER]
            add(LLM, RESEARCHER, sub, ctx=inner)
            add(TOOL, RESEARCHER, sub, tool=WEB)
            add(LLM, RESEARCHER, sub, ctx=inner + prof.TOOLS[WEB].result_tokens, ans=True)
            context += prof.RESEARCH_ANSWER_TOKENS
        else:
            add(TOOL, SUPPORT, root, tool=kind)
            context += inc.LOOP_ROUND_TOKENS if loop else prof.TOOLS[kind].result_tokens
    add(LLM, SUPPORT, root, ctx=context, ans=True)
    return rows


@functools.cache
def templates() -> _Templates:
    """The turn templates: ids 0–84 for 0 to 3 rounds (id ``_ROUND_PREFIX[k]`` plus the round
    kinds in base 4, first round lowest), then one per loop length from ``LOOP_MIN_CALLS``."""
    plans = [
        ([(code // 4**j) % 4 for j in range(k)], False) for k in range(4) for code in range(4**k)
    ]
    plans += [([SEARCH] * n, True) for n in range(inc.LOOP_MIN_CALLS, inc.LOOP_MAX_CALLS + 1)]
    columns: dict[str, list] = {c: [] for c in ("kind", "agent", "tool", "parent", "context")}
    columns |= {"answer": [], "loop": [], "first_leaf": [], "last_leaf": []}
    sizes = []
    for rounds, loop in plans:
        rows = _turn_rows(rounds, loop)
        sizes.append(len(rows))
        for i, (kind, agent, tool, parent, ctx, ans) in enumerate(rows):
            # the rows under i follow it (depth first): those whose ancestors include i
            under = [j for j in range(i, len(rows)) if _descends(rows, j, i)]
            leaves = [j for j in under if rows[j][0] != AGENT]
            columns["kind"].append(kind)
            columns["agent"].append(agent)
            columns["tool"].append(tool)
            columns["parent"].append(parent)
            columns["context"].append(ctx)
            columns["answer"].append(ans)
            columns["loop"].append(loop and kind == TOOL)
            columns["first_leaf"].append(leaves[0])
            columns["last_leaf"].append(leaves[-1])
    size = np.array(sizes)
    return _Templates(
        **{c: np.array(v) for c, v in columns.items()},
        start=np.cumsum(size) - size,
        size=size,
    )


def _descends(rows: list[tuple], j: int, i: int) -> bool:
    while j != -1:
        if j == i:
            return True
        j = rows[j][3]
    return False


@dataclass(frozen=True)
class AgentTraffic:
    """The spans of the agent sessions (store columns), and the injected loop (or None)."""

    spans: pl.DataFrame
    tool_loop: inc.ToolLoop | None


def build_agent_traffic(
    rng: np.random.Generator,
    n_calls: int,
    start: datetime,
    days: int,
    sched: inc.Schedule | None,
    rates: prof.TokenRates,
    project: str,
) -> AgentTraffic:
    """Agent sessions beside ``n_calls`` calls over ``days`` days from ``start``:
    ``AGENT_SESSIONS_PER_CALL × n_calls`` sessions, plus ``LOOP_SESSIONS`` whose last turn
    loops when ``sched`` is given (the latency incident then slows the agents' ``gpt-4o``
    calls too). Priced at ``rates`` like the other calls.

    Example: ``build_agent_traffic(rng, 20_000, start, 7, None, rates, "demo").spans``.
    """
    tpl = templates()
    n_normal = max(1, round(n_calls * prof.AGENT_SESSIONS_PER_CALL))
    n_loop = inc.LOOP_SESSIONS if sched is not None else 0
    n_sessions = n_normal + n_loop
    loop_session = np.arange(n_sessions) >= n_normal

    # Sessions: who, when, how many turns. Loop sessions start early enough in the window for
    # their last (looping) turn to fall inside it.
    extra = rng.poisson(prof.AGENT_EXTRA_TURNS_MEAN, n_sessions)
    turns = np.where(loop_session, 2 + np.minimum(extra, 3), 2 + extra)
    turns = np.minimum(turns, prof.AGENT_MAX_TURNS)
    user = rng.choice(prof.N_USERS, size=n_sessions, p=prof.USER_SHARES)
    hour = rng.choice(days * 24, size=n_sessions, p=_hourly_weights(start, days))
    offset_us = np.rint((hour + rng.random(n_sessions)) * 3600 * _US).astype(np.int64)
    session_start = epoch_us(start) + offset_us
    if sched is not None:
        room_s = (sched.loop_end - sched.loop_start).total_seconds() - 3600
        in_window = np.rint(rng.random(n_sessions) * room_s * _US).astype(np.int64)
        session_start = np.where(
            loop_session, epoch_us(sched.loop_start) + in_window, session_start
        )

    # Turns: which template (rounds drawn per turn; the loop sessions' last turn loops).
    n_turns = int(turns.sum())
    session = np.repeat(np.arange(n_sessions), turns)
    first_turn = np.cumsum(turns) - turns
    turn_index = np.arange(n_turns) - first_turn[session]
    n_rounds = rng.choice(4, size=n_turns, p=prof.AGENT_ROUND_SHARES)
    kinds = rng.choice(4, size=(n_turns, 3), p=prof.AGENT_ROUND_KINDS)
    code = (kinds * 4 ** np.arange(3) * (np.arange(3) < n_rounds[:, None])).sum(axis=1)
    template = _ROUND_PREFIX[n_rounds] + code
    looping = loop_session[session] & (turn_index == turns[session] - 1)
    loop_calls = rng.integers(inc.LOOP_MIN_CALLS, inc.LOOP_MAX_CALLS + 1, n_turns)
    template = np.where(looping, _N_NORMAL + loop_calls - inc.LOOP_MIN_CALLS, template)
    message = np.where(
        looping, len(texts.AGENT_MESSAGES), rng.integers(0, len(texts.AGENT_MESSAGES), n_turns)
    )

    # Spans: each turn's template rows, in order.
    size = tpl.size[template]
    n_spans = int(size.sum())
    turn = np.repeat(np.arange(n_turns), size)
    first_span = np.cumsum(size) - size
    row = tpl.start[template][turn] + np.arange(n_spans) - first_span[turn]
    kind, tool = tpl.kind[row], tpl.tool[row]
    is_llm, is_tool = kind == LLM, kind == TOOL
    leaf = kind != AGENT

    llm = _model_calls(rng, tpl, row[is_llm], turn_index[turn[is_llm]], rates)
    tool_s = _lognormal(
        rng,
        np.array([t.latency_s for t in prof.TOOLS])[tool[is_tool]],
        np.array([t.sigma for t in prof.TOOLS])[tool[is_tool]],
        int(is_tool.sum()),
    )
    error_share = np.array([t.error_share for t in prof.TOOLS])[tool[is_tool]]
    tool_failed = rng.random(len(tool_s)) < error_share
    gap_us = np.rint(rng.uniform(0.002, 0.008, n_spans) * _US).astype(np.int64)
    root_tail_us = np.rint(rng.uniform(0.001, 0.003, n_turns) * _US).astype(np.int64)
    think_s = np.clip(_lognormal(rng, prof.AGENT_THINK_S, 0.6, n_turns), 5.0, 600.0)
    think_us = np.where(turn_index > 0, np.rint(think_s * _US), 0).astype(np.int64)

    def lay_out(latency_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        duration = np.zeros(n_spans, dtype=np.int64)
        duration[is_llm] = np.rint(latency_s * _US)
        duration[is_tool] = np.rint(tool_s * _US)
        offsets = _offsets(tpl, row, turn, first_span, leaf, duration, gap_us, root_tail_us)
        turn_start = _turn_starts(
            session, first_turn, session_start, offsets[1][first_span], think_us
        )
        turn_start = _fit(turn_start, session, first_turn, turns, loop_session, start, days)
        return turn_start[turn] + offsets[0], turn_start[turn] + offsets[1]

    span_start, span_end = lay_out(llm["latency_s"])
    if sched is not None:  # the latency incident slows the agents' calls of its model too
        slow = (
            (llm["model"] == prof.MODEL_NAMES.index(inc.LATENCY_MODEL))
            & (span_start[is_llm] >= epoch_us(sched.latency_start))
            & (span_start[is_llm] < epoch_us(sched.latency_end))
        )
        llm["latency_s"] = np.where(slow, llm["latency_s"] * inc.LATENCY_FACTOR, llm["latency_s"])
        llm["ttft_s"] = np.where(slow, llm["ttft_s"] * inc.LATENCY_FACTOR, llm["ttft_s"])
        span_start, span_end = lay_out(llm["latency_s"])

    trace_high, trace_low = ids.unique_words(rng, n_turns), ids.unique_words(rng, n_turns)
    words = ids.unique_words(rng, n_spans)
    session_ids = "conv-" + ids.to_hex(ids.unique_words(rng, n_sessions))
    parent_rel = tpl.parent[row]
    parent = np.where(parent_rel >= 0, words[first_span[turn] + np.maximum(parent_rel, 0)], 0)
    trace_id = ids.to_hex(trace_high, trace_low)

    frame = _frame(
        tpl,
        row,
        turn,
        session,
        user,
        message,
        llm,
        tool_failed,
        rng,
        rates,
        {
            "trace_id": trace_id.gather(turn),
            "span_id": ids.to_hex(words),
            "parent_span_id": ids.to_hex(parent.astype(np.uint64)).set(
                pl.Series(parent == 0), None
            ),
            "start_time": timestamps(span_start),
            "end_time": timestamps(span_end),
            "latency_s": pl.Series((span_end - span_start) / _US),
            "session_id": session_ids.gather(session[turn]),
        },
        project,
    )
    loop = None
    if sched is not None:
        turn_usd = np.bincount(turn[is_llm], np.nan_to_num(llm["cost_usd"]), minlength=n_turns)
        usd = tuple(float(v) for v in turn_usd[looping])
        loop = inc.ToolLoop(
            agent=inc.LOOP_AGENT,
            tool=inc.LOOP_TOOL,
            arguments=inc.LOOP_ARGUMENTS,
            start=sched.loop_start,
            end=sched.loop_end,
            session_ids=tuple(session_ids.gather(session[looping]).to_list()),
            trace_ids=tuple(trace_id.filter(pl.Series(looping)).to_list()),
            user_ids=tuple(prof.USER_IDS[u] for u in user[session[looping]]),
            tool_calls=tuple(int(c) for c in loop_calls[looping]),
            usd=usd,
            total_usd=sum(usd),
        )
    return AgentTraffic(frame.sort("start_time", maintain_order=True), loop)


def _model_calls(
    rng: np.random.Generator,
    tpl: _Templates,
    row: np.ndarray,
    turn_index: np.ndarray,
    rates: prof.TokenRates,
) -> dict[str, np.ndarray]:
    # Tokens, cost and timing of the model calls (rows of kind LLM), as traffic.py draws them.
    n = len(row)
    agent = tpl.agent[row]
    model = _AGENT_MODEL[agent]
    context = tpl.context[row] + np.where(
        agent == SUPPORT, prof.AGENT_HISTORY_TOKENS * turn_index, 0
    )
    input_tokens = np.rint(_lognormal(rng, context, 0.06, n))
    answer = tpl.answer[row]
    out_median = np.where(
        answer, np.array(prof.AGENT_ANSWER_TOKENS)[agent], prof.TOOL_REQUEST_TOKENS
    )
    output_tokens = np.clip(np.rint(_lognormal(rng, out_median, 0.35, n)), 1, 4_000)
    # An agent's prompt is a growing prefix, so OpenAI serves most of it from its cache (in
    # 128-token blocks from 1,024 on); Anthropic caches only when asked, and is not here.
    provider = _PROVIDER[model]
    openai = provider == "openai"
    hit = openai & (input_tokens >= 1024) & (rng.random(n) < 0.8)
    share = rng.uniform(0.6, 0.9, n)
    cached = np.clip(np.floor(input_tokens * share / 128) * 128, 1024, input_tokens)
    tokens = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": np.where(hit, cached, 0.0),
        "cache_write_tokens": np.where(provider == "anthropic", 0.0, np.nan),
        "reasoning_tokens": np.where(openai, 0.0, np.nan),
    }
    stream = answer & (agent == SUPPORT)  # the answer the user sees is streamed
    ttft = _lognormal(rng, np.array([m.ttft_s for m in prof.MODELS])[model], 0.35, n)
    ttft = ttft + input_tokens / prof.PREFILL_TOKENS_PER_S
    speed = _lognormal(rng, np.array([m.tokens_per_s for m in prof.MODELS])[model], 0.2, n)
    latency = ttft + output_tokens / speed
    cost = _cost(tokens, model, np.full(n, OK), rates)
    return {
        **tokens,
        "model": model,
        "stream": stream,
        "ttft_s": np.where(stream, ttft, np.nan),
        "latency_s": latency,
        "cost_usd": cost,
    }


def _offsets(
    tpl: _Templates,
    row: np.ndarray,
    turn: np.ndarray,
    first_span: np.ndarray,
    leaf: np.ndarray,
    duration: np.ndarray,
    gap: np.ndarray,
    root_tail: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    # Start and end of each span after its turn's start, in µs: the leaves (model calls and
    # tools) one after the other, each a few ms after the last; an agent from just before its
    # first leaf (the root: from the turn's start) to just after its last.
    step = np.where(leaf, gap + duration, 0)
    done = np.cumsum(step)
    before_turn = (done - step)[first_span]  # every turn's first span is its root (no step)
    end = done - before_turn[turn]
    start = end - duration
    agent = ~leaf
    is_root = tpl.parent[row] == -1
    first = first_span[turn] + tpl.first_leaf[row]
    last = first_span[turn] + tpl.last_leaf[row]
    start = np.where(agent, np.where(is_root, 0, start[first] - 1_000), start)
    end = np.where(agent, end[last] + np.where(is_root, root_tail[turn], 1_000), end)
    return start, end


def _turn_starts(
    session: np.ndarray,
    first_turn: np.ndarray,
    session_start: np.ndarray,
    duration: np.ndarray,
    think: np.ndarray,
) -> np.ndarray:
    # Each turn starts when the previous one ended (its root's end) plus the user's think time.
    previous = np.concatenate([[0], duration[:-1]])
    previous[first_turn] = 0
    elapsed = np.cumsum(previous + think)
    return session_start[session] + elapsed - elapsed[first_turn][session]


def _fit(
    turn_start: np.ndarray,
    session: np.ndarray,
    first_turn: np.ndarray,
    turns: np.ndarray,
    loop_session: np.ndarray,
    start: datetime,
    days: int,
) -> np.ndarray:
    # A session that would run past the period's end starts earlier, so every turn starts
    # inside the period (the loop sessions fit in their window by construction).
    last = turn_start[first_turn + turns - 1]
    end = epoch_us(start + timedelta(days=days)) - _US
    shift = np.where(loop_session, 0, np.maximum(last - end, 0))
    return turn_start - shift[session]


def _frame(
    tpl: _Templates,
    row: np.ndarray,
    turn: np.ndarray,
    session: np.ndarray,
    user: np.ndarray,
    message: np.ndarray,
    llm: dict[str, np.ndarray],
    tool_failed: np.ndarray,
    rng: np.random.Generator,
    rates: prof.TokenRates,
    columns: dict[str, pl.Series],
    project: str,
) -> pl.DataFrame:
    n = len(row)
    kind, agent, tool = tpl.kind[row], tpl.agent[row], tpl.tool[row]
    is_llm, is_tool = kind == LLM, kind == TOOL
    not_llm = ~is_llm
    n_models = len(prof.MODELS)

    def per_llm(values: np.ndarray, dtype: pl.DataType) -> pl.Series:
        full = np.full(n, np.nan)
        full[is_llm] = values
        return _nullable(full, dtype)

    model = np.zeros(n, dtype=np.int64)
    model[is_llm] = llm["model"]
    stream = np.zeros(n, dtype=np.int64)
    stream[is_llm] = llm["stream"]
    unpriced = np.ones(n, dtype=bool)
    unpriced[is_llm] = np.isnan(llm["cost_usd"])
    failed = np.zeros(n, dtype=bool)
    failed[is_tool] = tool_failed
    error = np.where(failed, 1 + np.maximum(tool, 0), 0)

    # Text: one vocabulary, a code per span (None where a span carries none).
    n_messages = len(texts.AGENT_MESSAGES)
    arguments = [a for per_tool in texts.TOOL_ARGUMENTS for a in per_tool]
    results = [r for per_tool in texts.TOOL_RESULTS for r in per_tool]
    per_tool = np.array([len(a) for a in texts.TOOL_ARGUMENTS])
    first_argument = np.cumsum(per_tool) - per_tool
    vocabulary = [
        *texts.AGENT_MESSAGES,
        texts.LOOP_MESSAGE,
        *texts.AGENT_ANSWERS,
        texts.LOOP_ANSWER,
        texts.RESEARCH_SUMMARY,
        *arguments,
        inc.LOOP_ARGUMENTS,
        *results,
        inc.LOOP_RESULT,
    ]
    answers_at = n_messages + 1
    summary_at = answers_at + n_messages + 1
    arguments_at = summary_at + 1
    results_at = arguments_at + len(arguments) + 1
    pick = rng.integers(0, 1 << 30, n) % per_tool[np.maximum(tool, 0)]
    argument = first_argument[np.maximum(tool, 0)] + pick
    loop_call = tpl.loop[row]
    said = message[turn]
    is_root = tpl.parent[row] == -1
    answered = tpl.answer[row] & (agent == SUPPORT)
    input_code = np.select(
        [is_tool & loop_call, is_tool],
        [arguments_at + len(arguments), arguments_at + argument],
        said,
    )
    output_code = np.select(  # the loop's message is said's last value, its answer too
        [is_tool & loop_call, is_tool, answered | is_root],
        [results_at + len(results), results_at + argument, answers_at + said],
        summary_at,  # the researcher's answer
    )
    no_input = (kind == AGENT) & ~is_root
    no_output = (no_input | (is_llm & ~tpl.answer[row])) | failed

    error_types = [None] + [t.error_type for t in prof.TOOLS]
    error_messages = [None] + [t.error_message for t in prof.TOOLS]
    return _table(
        {
            **columns,
            "name": _labels(
                [f"invoke_agent {a}" for a in prof.AGENT_NAMES]
                + [f"chat {m}" for m in prof.MODEL_NAMES]
                + [f"execute_tool {t}" for t in prof.TOOL_NAMES],
                np.select([kind == AGENT, is_llm], [agent, 2 + model], 2 + n_models + tool),
            ),
            "kind": _labels(list(KINDS), kind),
            "ttft_s": per_llm(llm["ttft_s"], pl.Float64()),
            "provider": _labels([m.provider for m in prof.MODELS], model, not_llm),
            "model": _labels(list(prof.MODEL_NAMES), model, not_llm),
            "response_model": _labels([m.response_model for m in prof.MODELS], model, not_llm),
            "operation": _labels(list(OPERATIONS), kind),
            "user_id": _labels(list(prof.USER_IDS), user[session[turn]]),
            "status": _labels(["ok", "error"], failed.astype(np.int64)),
            "error_type": _labels(error_types, error),
            "error_message": _labels(error_messages, error),
            "input_tokens": per_llm(llm["input_tokens"], pl.Int64()),
            "output_tokens": per_llm(llm["output_tokens"], pl.Int64()),
            "cached_input_tokens": per_llm(llm["cached_input_tokens"], pl.Int64()),
            "cache_write_tokens": per_llm(llm["cache_write_tokens"], pl.Int64()),
            "reasoning_tokens": per_llm(llm["reasoning_tokens"], pl.Int64()),
            "cost_usd": per_llm(llm["cost_usd"], pl.Float64()),
            "price_version": _labels(
                [None if p is None else p.version for p in rates.prices], model, unpriced
            ),
            "input_text": _labels(vocabulary, input_code, no_input),
            "output_text": _labels(vocabulary, output_code, no_output),
            "attributes": _labels(
                ["{}", _TOOL_ATTRIBUTES, *_llm_attributes()],
                np.select([kind == AGENT, is_tool], [0, 1], 2 + model * 2 + stream),
            ),
            "agent_name": _labels(list(prof.AGENT_NAMES), agent),
            "tool_name": _labels(list(prof.TOOL_NAMES), np.maximum(tool, 0), ~is_tool),
        },
        {"project": project, "use_case": prof.AGENT_USE_CASE},
        schema.SPANS,
    )
