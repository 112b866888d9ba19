"""Who calls which model for what: the fixed profiles the demo traffic is drawn from.

Numbers here shape the traffic (volumes, token sizes, speeds, judge scores); prices are not
among them: they come from the project's price book (genai-prices data), once per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from llmobs_nb.pricing import Price, PriceBook


@dataclass(frozen=True)
class ModelProfile:
    """One model as the demo calls it.

    ``ttft_s``: median time to first token for a short prompt; ``tokens_per_s``: median decoding
    speed; ``quality``: mean LLM-judge score before use-case adjustment; ``priced``: whether
    the model has a public price (a self-hosted model has none, so its cost is NULL).
    """

    name: str
    provider: str
    response_model: str
    ttft_s: float
    tokens_per_s: float
    quality: float
    priced: bool


@dataclass(frozen=True)
class UseCaseProfile:
    """One use case: its share of traffic, whether it is a RAG pipeline, its model mix and sizes.

    Token counts are log-normal: ``*_median`` tokens with log-space spread ``*_sigma``.
    """

    name: str
    share: float
    rag: bool
    models: dict[str, float]
    input_median: float
    input_sigma: float
    output_median: float
    output_sigma: float
    stream_share: float
    quality_shift: float


MODELS: tuple[ModelProfile, ...] = (
    ModelProfile(
        name="gpt-4o",
        provider="openai",
        response_model="gpt-4o-2024-08-06",
        ttft_s=0.45,
        tokens_per_s=85.0,
        quality=0.87,
        priced=True,
    ),
    ModelProfile(
        name="gpt-4o-mini",
        provider="openai",
        response_model="gpt-4o-mini-2024-07-18",
        ttft_s=0.35,
        tokens_per_s=110.0,
        quality=0.83,
        priced=True,
    ),
    ModelProfile(
        name="claude-sonnet-4-5",
        provider="anthropic",
        response_model="claude-sonnet-4-5-20250929",
        ttft_s=0.80,
        tokens_per_s=80.0,
        quality=0.89,
        priced=True,
    ),
    ModelProfile(
        name="claude-3-5-haiku",
        provider="anthropic",
        response_model="claude-3-5-haiku-20241022",
        ttft_s=0.50,
        tokens_per_s=100.0,
        quality=0.82,
        priced=True,
    ),
    # Self-hosted behind vLLM: no public price, so its calls carry cost NULL (reported unpriced).
    ModelProfile(
        name="llama-3-8b-local",
        provider="self-hosted",
        response_model="meta-llama/Meta-Llama-3-8B-Instruct",
        ttft_s=0.15,
        tokens_per_s=70.0,
        quality=0.74,
        priced=False,
    ),
)
MODEL_NAMES: tuple[str, ...] = tuple(m.name for m in MODELS)

# gpt-4o-mini serves customer_service only, so the quality regression injected there also
# shows when scores are grouped by model alone.
USE_CASES: tuple[UseCaseProfile, ...] = (
    UseCaseProfile(
        name="customer_service",
        share=0.40,
        rag=True,
        models={"gpt-4o-mini": 0.60, "claude-3-5-haiku": 0.25, "gpt-4o": 0.15},
        input_median=2200,
        input_sigma=0.30,
        output_median=150,
        output_sigma=0.40,
        stream_share=1.0,
        quality_shift=0.02,
    ),
    UseCaseProfile(
        name="docs_qa",
        share=0.25,
        rag=True,
        models={"gpt-4o": 0.60, "claude-sonnet-4-5": 0.40},
        input_median=3500,
        input_sigma=0.30,
        output_median=220,
        output_sigma=0.40,
        stream_share=1.0,
        quality_shift=0.0,
    ),
    UseCaseProfile(
        name="summarization",
        share=0.20,
        rag=False,
        models={"llama-3-8b-local": 0.55, "claude-3-5-haiku": 0.45},
        input_median=3000,
        input_sigma=0.60,
        output_median=180,
        output_sigma=0.35,
        stream_share=0.0,
        quality_shift=0.01,
    ),
    UseCaseProfile(
        name="code_assist",
        share=0.15,
        rag=False,
        models={"claude-sonnet-4-5": 0.60, "gpt-4o": 0.40},
        input_median=1600,
        input_sigma=0.60,
        output_median=240,
        output_sigma=0.40,
        stream_share=0.7,
        quality_shift=-0.03,
    ),
)
USE_CASE_NAMES: tuple[str, ...] = tuple(u.name for u in USE_CASES)

N_USERS = 40
USER_IDS: tuple[str, ...] = tuple(f"user-{i:03d}" for i in range(1, N_USERS + 1))
# Zipf-like: a few heavy users, a long tail. The heaviest carries ~18% of the traffic.
USER_SHARES: np.ndarray = (lambda w: w / w.sum())(1.0 / np.arange(1, N_USERS + 1) ** 0.9)

# The A/B experiment: part of docs_qa traffic runs under one of two prompt versions.
RUNS: tuple[str, ...] = ("prompt-v1", "prompt-v2")
EXPERIMENT_USE_CASE = "docs_qa"
EXPERIMENT_SHARE = 0.5
RUN_PARAMS: tuple[str, ...] = (
    '{"prompt_template":"docs_qa/v1","temperature":0.2,"top_k":20}',
    '{"prompt_template":"docs_qa/v2","temperature":0.2,"top_k":20}',
)
V2_QUALITY_DELTA = 0.03  # prompt-v2 answers are judged slightly better ...
V2_OUTPUT_FACTOR = 0.85  # ... and shorter, hence faster.

# Judge scores are Beta(mean·κ, (1-mean)·κ): κ sets how tight they sit around the mean.
JUDGE_CONCENTRATION = 18.0
RATE_LIMIT_SHARE = 0.010
TIMEOUT_SHARE = 0.005
TIMEOUT_S = 60.0
PREFILL_TOKENS_PER_S = 20_000.0


@dataclass(frozen=True)
class TokenRates:
    """USD per token, one element per model in MODELS order (NaN where a model has no price),
    with each model's price (None if unpriced) as the pricing module resolved it."""

    input: np.ndarray
    cache_read: np.ndarray
    cache_write: np.ndarray
    output: np.ndarray
    prices: tuple[Price | None, ...]


def token_rates(at: datetime) -> TokenRates:
    """Per-token prices of :data:`MODELS` on the date of ``at``, from the project's price book
    (genai-prices data), looked up once per model so costs can be computed vectorised.

    Rates are the base tier: every demo call stays below the long-context thresholds.

    Example: ``token_rates(datetime.now(UTC)).output[MODEL_NAMES.index("gpt-4o")] * 1e6`` is
    10.0 (USD per million output tokens).
    """
    book = PriceBook()
    prices = tuple(book.lookup(m.name, m.provider, at) if m.priced else None for m in MODELS)

    def per_token(field: str) -> np.ndarray:
        rates = []
        for price in prices:
            rate = None if price is None else getattr(price, field)
            # The price book's convention: a cache rate the provider lists none for is billed
            # as input.
            if price is not None and rate is None:
                rate = price.input_mtok
            rates.append(np.nan if rate is None else rate / 1e6)
        return np.array(rates)

    return TokenRates(
        input=per_token("input_mtok"),
        cache_read=per_token("cached_input_mtok"),
        cache_write=per_token("cache_write_mtok"),
        output=per_token("output_mtok"),
        prices=prices,
    )


# Agent sessions (generate(agents=True)): multi-turn conversations with a support agent that
# calls tools and hands research to a sub-agent. Each turn is a trace whose root is the
# support agent's span; the ReAct loop inside asks its model, runs the tool the model asked
# for, and asks again, until the model answers.
AGENT_USE_CASE = "agent"
SUPPORT_AGENT = "support_agent"
RESEARCH_AGENT = "researcher"
AGENT_NAMES: tuple[str, ...] = (SUPPORT_AGENT, RESEARCH_AGENT)
AGENT_MODELS: tuple[str, ...] = ("gpt-4o", "claude-3-5-haiku")  # in AGENT_NAMES order
AGENT_SESSIONS_PER_CALL = 0.01  # 20,000 calls → 200 sessions (~800 turns) besides them
AGENT_EXTRA_TURNS_MEAN = 2.0  # turns per session: 2 + Poisson(2), at most AGENT_MAX_TURNS
AGENT_MAX_TURNS = 10
AGENT_THINK_S = 40.0  # median time the user takes to read the answer and write again
# Rounds (model call → tool) of a turn before the answer: 0 to 3; each round calls one of
# search_docs, get_order, refund, or hands a question to the researcher (who searches the web).
AGENT_ROUND_SHARES: tuple[float, ...] = (0.25, 0.40, 0.25, 0.10)
AGENT_ROUND_KINDS: tuple[float, ...] = (0.40, 0.30, 0.10, 0.20)


@dataclass(frozen=True)
class ToolProfile:
    """One tool as the agents call it: its median latency (log-normal, ``sigma``), the tokens its
    result adds to the caller's context, and how often it fails (with which error)."""

    name: str
    latency_s: float
    sigma: float
    result_tokens: int
    error_share: float = 0.0
    error_type: str | None = None
    error_message: str | None = None


TOOLS: tuple[ToolProfile, ...] = (
    ToolProfile("search_docs", 0.12, 0.35, 700),
    ToolProfile(
        "get_order", 0.08, 0.30, 180, 0.06, "OrderNotFound", "no such order for this customer"
    ),
    ToolProfile("refund", 0.45, 0.30, 90),
    ToolProfile("web_search", 1.2, 0.45, 900, 0.03, "TimeoutError", "web search timed out"),
)
TOOL_NAMES: tuple[str, ...] = tuple(t.name for t in TOOLS)
# Context of each model call: the agent's system prompt and tool schemas, the conversation so
# far (support agent only), and the tool results of this turn; outputs are short tool requests
# or an answer.
AGENT_PROMPT_TOKENS: tuple[int, ...] = (1_400, 600)  # in AGENT_NAMES order
AGENT_HISTORY_TOKENS = 350  # per earlier turn of the session
RESEARCH_ANSWER_TOKENS = 260  # the researcher's answer, in the support agent's context
TOOL_REQUEST_TOKENS = 35  # median output of a model call that asks for a tool
AGENT_ANSWER_TOKENS: tuple[int, ...] = (160, 250)  # median output of an answer, per agent
