"""A real store of agent conversations for the agent and session view tests.

Three sessions written through ``llmobs_nb.init`` with ``obs.session``, ``obs.agent``,
``obs.tool`` and ``obs.span(kind="llm")``; each turn is one trace:

- ``conv-1`` (user ``ann``): 2 turns on ``big-model`` (the most expensive session), one failed
  model call per turn;
- ``conv-2`` (user ``bob``): 3 turns on ``small-model`` (the most turns), nothing fails;
- :data:`XSS` (user ``eve``): 1 turn on ``small-model`` with few tokens (the cheapest, the
  latest), three failed model calls and a failed tool called with :data:`XSS` as argument;
  the turn's question is :data:`XSS` too.

Every turn: ``turn`` (chain) → agent ``planner`` → a model call, two ``search`` tools run in
parallel threads (a barrier makes them overlap), agent ``researcher`` (model calls, tool
``fetch_page``), a last model call. One more trace outside any session and agent holds a
single model call.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import llmobs_nb

XSS = "<img src=x onerror=alert(1)>"
PRICES = {
    "big-model": {"input_mtok": 10.0, "output_mtok": 30.0},
    "small-model": {"input_mtok": 0.1, "output_mtok": 0.4},
}
#: session id → (user, turns, model, tokens per call, failed model calls per turn)
SESSIONS: dict[str, tuple[str, int, str, int, int]] = {
    "conv-1": ("ann", 2, "big-model", 1000, 1),
    "conv-2": ("bob", 3, "small-model", 1000, 0),
    XSS: ("eve", 1, "small-model", 100, 3),
}


def build_agent_store(path: Path) -> Path:
    """Write the conversations above into the DuckDB file ``path`` and close it."""
    obs = llmobs_nb.init(db=path, project="agents", capture_content=True, prices=PRICES)
    both_searching = threading.Barrier(2)

    @obs.tool("search")
    def search(query: str) -> str:
        both_searching.wait(timeout=20)  # both searches are open at once: they overlap
        time.sleep(0.01)
        return f"hits for {query}"

    @obs.tool("fetch_page")
    def fetch_page(url: str) -> str:
        time.sleep(0.003)
        if not url.startswith("https://"):
            raise ValueError("no such page")
        return "page text"

    def model_call(model: str, tokens: int, *, fail: bool = False) -> None:
        try:
            with obs.span(f"chat {model}", kind="llm", model=model) as span:
                time.sleep(0.003)
                span.set_usage({"prompt_tokens": tokens, "completion_tokens": tokens // 4})
                if fail:
                    raise RuntimeError("model overloaded")
        except RuntimeError:
            pass

    def turn(question: str, model: str, tokens: int, failures: int, bad_url: str | None) -> None:
        with obs.span("turn", kind="chain") as root:
            root.set_input(question)
            with obs.agent("planner"):
                model_call(model, tokens)
                with ThreadPoolExecutor(2) as pool:
                    found = [
                        pool.submit(contextvars.copy_context().run, search, query)
                        for query in ("flights", "hotels")
                    ]
                    hits = [f.result(timeout=30) for f in found]
                with obs.agent("researcher"):
                    model_call(model, tokens)
                    for _ in range(failures):
                        model_call(model, tokens, fail=True)
                    if bad_url is not None:
                        with contextlib.suppress(ValueError):  # recorded as a failed tool
                            fetch_page(bad_url)
                    fetch_page("https://example.org")
                model_call(model, tokens)
            root.set_output(f"answer from {len(hits)} searches")

    try:
        for session_id, (user, turns, model, tokens, failures) in SESSIONS.items():
            with obs.session(session_id, user_id=user):
                for number in range(turns):
                    question = XSS if session_id == XSS else f"question {number + 1}"
                    turn(question, model, tokens, failures, XSS if session_id == XSS else None)
            time.sleep(0.01)  # distinct last activities
        with obs.span("chat small-model", kind="llm", model="small-model") as span:
            span.set_usage({"prompt_tokens": 10, "completion_tokens": 2})
        obs.flush()
    finally:
        obs.close()
    return path


def spans_of(path: Path, sql: str, params: list[Any] | None = None) -> Any:
    """Run ``sql`` on the closed store at ``path`` (read-only)."""
    from llmobs_nb.view.data_source import DataSource

    return DataSource(path).query(sql, params or [])
