"""No secret kept, no prompt text with content off: every text path, searched byte by byte.

A corpus of fake secrets (every kind the redactor knows) goes into every place text enters:
exception messages (content off and on), span names, attribute keys and values, run names and
params, score names, comments, sources and labels, model names, use_case and user_id labels,
captured content, third-party OpenInference and GenAI spans through the global tracer, and a
real OTLP/HTTP exporter pointed at a collector on 127.0.0.1. Then the raw bytes of the store
file (and of its WAL, before close), the log records, the Prometheus text and the OTLP request
bodies are searched for every secret and for a distinctive prompt passed with content off.
A canary (no secret) sent the same way must be found in each: the search can see text there.

The rule set itself: read from the installed detect-secrets (every regex detector it ships,
its version and licence recorded) plus ours; every rule compiles, has only bounded repeats
where it comes from detect-secrets, and redacts an example generated from its own expression;
no false positive on an ordinary corpus; every fake secret caught.
"""

from __future__ import annotations

import gzip
import inspect
import json
import logging
import random
import string
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]

import pytest
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

import llmobs_nb
from llmobs_nb.capture import errors as capture_errors
from llmobs_nb.capture.redact import REDACTED, Redactor, redact_text
from llmobs_nb.capture.secret_rules import detector_classes, is_anchored, load_rules, rule_source
from llmobs_nb.demo.secret_corpus import FakeSecret, fake_secrets, ordinary_texts

PROMPT = "Plan the zebra-quokka migration for ward 4471 before Tuesday"
CASES = fake_secrets()


# -- the rule set -------------------------------------------------------------------------------
_PRINTABLE = string.ascii_letters + string.digits + "-_./+=:"
_CATEGORIES = {
    c.CATEGORY_DIGIT: string.digits,
    c.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    c.CATEGORY_SPACE: " ",
    c.CATEGORY_NOT_DIGIT: string.ascii_letters,
    c.CATEGORY_NOT_WORD: " -.",
    c.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}


def _charset(items: list) -> list[str]:
    allowed: set[str] = set()
    negate = False
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            allowed.add(chr(av))
        elif op is c.RANGE:
            allowed.update(chr(i) for i in range(av[0], min(av[1], 0x7E) + 1))
        elif op is c.CATEGORY:
            allowed.update(_CATEGORIES.get(av, ""))
    if negate:
        return [ch for ch in _PRINTABLE if ch not in allowed]
    return sorted(allowed)


def example_of(regex: str, rng: random.Random, flags: int = 0) -> str:
    """A string the expression may match, drawn at random from its parsed form."""
    groups: dict[int, str] = {}

    def gen(items: list) -> str:
        out = []
        for op, av in items:
            if op is c.LITERAL:
                out.append(chr(av))
            elif op is c.NOT_LITERAL:
                out.append(rng.choice([ch for ch in _PRINTABLE if ord(ch) != av]))
            elif op is c.ANY:
                out.append(rng.choice("." + string.ascii_letters))
            elif op is c.IN:
                allowed = _charset(av)
                out.append(" " if " " in allowed and rng.random() < 0.3 else rng.choice(allowed))
            elif op is c.CATEGORY:
                out.append(rng.choice(_CATEGORIES[av]))
            elif op is c.BRANCH:
                out.append(gen(rng.choice(av[1])))
            elif op is c.SUBPATTERN:
                text = gen(av[-1])
                if av[0]:
                    groups[av[0]] = text
                out.append(text)
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                lo, hi, item = av
                n = rng.randint(0, 1) if lo == 0 and hi <= 1 else rng.randint(lo, min(hi, lo + 24))
                out.append("".join(gen(item) for _ in range(n)))
            elif op is c.GROUPREF:
                out.append(groups.get(av, ""))
            elif op not in (c.AT, c.ASSERT, c.ASSERT_NOT):
                raise ValueError(f"cannot generate {op}")
        return "".join(out)

    return gen(_parser.parse(regex, flags))


def test_rules_are_read_from_the_installed_detect_secrets_with_its_version_and_licence():
    from importlib import metadata

    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    source = rule_source()
    assert source["package"] == "detect-secrets" and source["license"] == "Apache-2.0"
    assert source["version"] == metadata.version("detect-secrets")
    licence = Path(source["license_file"]).read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    # detect-secrets' own plugin registry: every regex detector it knows is used (but IPs).
    theirs = {
        cls.__name__
        for cls in get_mapping_from_secret_type_to_class().values()
        if issubclass(cls, RegexBasedDetector) and not inspect.isabstract(cls)
    }
    assert set(source["detectors"]) == theirs - {"IPPublicDetector"}
    assert len(theirs) >= 20
    rules = load_rules()
    expected = sum(len(cls.denylist) for cls in detector_classes())
    assert sum(r.origin.startswith("detect-secrets ") for r in rules) == expected
    assert {r.origin.split()[-1] for r in rules if r.origin != "llmobs_nb"} == theirs - {
        "IPPublicDetector"
    }


def _unbounded(items: list) -> bool:
    """Whether a parsed expression has a repeat without an upper bound anywhere inside."""
    for op, av in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            inner = [av[2]]
            if av[1] == c.MAXREPEAT:
                return True
        elif op is c.SUBPATTERN:
            inner = [av[-1]]
        elif op is c.BRANCH:
            inner = list(av[1])
        elif op in (c.ASSERT, c.ASSERT_NOT):
            inner = [av[1]]
        else:
            inner = []
        if any(_unbounded(part) for part in inner):
            return True
    return False


def test_every_rule_compiles_and_redacts_an_example_of_itself():
    redactor = Redactor()
    failed = []
    for rule in load_rules():
        pattern = rule.compile()
        assert not rule.anchored or is_anchored(rule.regex, rule.keywords, rule.flags), rule.id
        if rule.origin != "llmobs_nb":  # Python's re backtracks: detectors are bounded
            assert not _unbounded(_parser.parse(rule.regex, rule.flags)), rule.id
        for seed in range(40):  # random examples: a few miss an entropy floor or a lookaround
            rng = random.Random(f"{rule.id}:{seed}")
            example = example_of(rule.regex, rng, rule.flags)
            text = f"{' '.join(rule.keywords)}\n{rng.choice(' a')}{example} \n"
            if pattern.search(text) and any(f[2] == rule.id for f in redactor.find(text)):
                break
        else:
            failed.append(rule.id)
    assert failed == []


def test_no_false_positive_on_ordinary_prompts_answers_logs_and_code():
    texts = ordinary_texts(600)
    redactor = Redactor()
    changed = [(t, redactor.redact(t)) for t in texts if redactor.redact(t) != t]
    assert changed == []


@pytest.mark.parametrize("case", CASES, ids=[case.kind for case in CASES])
def test_every_kind_of_secret_is_redacted(case: FakeSecret):
    out = Redactor().redact(case.text)
    assert case.secret not in out and REDACTED in out
    # Context survives: only the secret goes.
    assert len(out) > len(REDACTED)


class _Text(str):
    """A str subclass, as an SDK or a user may pass one (OpenTelemetry keeps it as it is)."""


def test_a_str_subclass_attribute_is_redacted_in_store_and_export():
    from llmobs_nb.capture.redact import redact_attributes, redact_value

    case = CASES[0]
    value = _Text(case.text)
    assert case.secret not in redact_attributes({"note": value})["note"]
    assert case.secret not in redact_value("note", value)


@pytest.mark.parametrize(
    "text",
    [
        "api_key=" * 4000,
        "curl -u " * 5000,
        "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 30_000,
        "https://a:" * 4000,
        "eyJ" * 10_000,
        "password: " * 3000 + "x",
        "key" * 10_000,
        "sk-" * 10_000,
        "//a/:_authToken=" * 2000 + "x" * 1000,
        "xoxb-" + "1-" * 15_000,
        "aws key " * 4000,
        "cl_key " * 5000,
        "1" * 30_000 + ":",
    ],
    ids=[
        *("assignments", "curl", "open-key-block", "urls", "jwt-ish", "passwords", "keywords"),
        *("sk-prefixes", "npm-lines", "slack-ish", "aws-names", "cloudant-names", "digits"),
    ],
)
def test_hostile_long_text_is_redacted_in_bounded_time(text: str):
    start = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - start < 2.0


# -- every text path ------------------------------------------------------------------------------
class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.bodies.append(body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1/traces", server.bodies  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(record.getMessage() + repr(getattr(record, "llm_call", None)))


class _Hostile:
    """A response whose fields raise with a secret in the message (a capture failure)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __getattr__(self, name: str) -> object:
        raise RuntimeError(f"cannot read {name}: {self.text}")


def _exercise(obs: llmobs_nb.Observer, case: FakeSecret, canary: str) -> None:
    """Send ``case.text`` down every path text takes into the store, logs, metrics, OTLP."""
    text = case.text

    @obs.observe(model="gpt-4o")
    def fails_quietly(prompt: str) -> None:
        raise RuntimeError(f"upstream rejected {prompt}: {text}")

    @obs.observe(model="gpt-4o", capture_content=True)
    def fails_loudly(prompt: str) -> None:
        raise RuntimeError(f"upstream rejected: {text}")

    @obs.observe(model=f"gpt-4o {text}", use_case=f"uc {text}", user_id=f"user {text}")
    def labelled(prompt: str) -> dict:
        return {"usage": {"prompt_tokens": 3, "completion_tokens": 1}}

    @obs.observe(model="gpt-4o", capture_content=True)
    def with_content(prompt: str) -> dict:
        return {"choices": [{"message": {"content": f"answer {text}"}}]}

    with pytest.raises(RuntimeError):
        fails_quietly(PROMPT)
    with pytest.raises(RuntimeError):
        fails_loudly(f"prompt {text}")
    labelled(f"prompt {text}")
    with_content(f"please use {text}")
    params = {"note": text, "openai_api_key": case.secret, "n": [text]}
    with obs.run(f"run {text}", params=params), obs.span(f"step {text}", kind="tool") as span:
        span.set_attributes(
            {"app.note": text, "api_key": case.secret, "app.list": [text], f"k {text}": 1}
        )
        span.set_response(_Hostile(text))  # a capture failure whose message holds it
        span.set_usage({"prompt_tokens": f"n {text}"})  # a usage problem: logged, with the name
        span_id = span.span_id
    obs.flush()
    obs.score(
        span_id,
        name=f"quality {text}",
        value=0.5,
        source=f"judge {text}",
        comment=f"because {text}",
        label=f"label {text}",
    )
    tracer = trace.get_tracer("openinference.instrumentation.openai")
    with tracer.start_as_current_span(f"ChatCompletion {text}") as third:
        third.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o",
                "llm.token_count.prompt": 5,
                "input.value": f"{PROMPT} {text}",
                "output.value": f"{PROMPT} {text}",
                "llm.input_messages.0.message.content": PROMPT,
                "llm.output_messages.0.message.content": PROMPT,
                "app.secret_note": text,
            }
        )
        third.add_event("gen_ai.content.prompt", {"gen_ai.prompt": PROMPT})
        third.record_exception(RuntimeError(f"{PROMPT}: {text}"))
        third.set_status(Status(StatusCode.ERROR, f"{PROMPT}: {text}"))
    genai = trace.get_tracer("opentelemetry.instrumentation.openai_v2")
    with genai.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": json.dumps([{"role": "user", "content": PROMPT}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": PROMPT}]),
                "gen_ai.system_instructions": PROMPT,
                "gen_ai.usage.input_tokens": 5,
            }
        )

    @obs.observe(model=f"gpt-4o-{canary}")
    def canary_call() -> dict:
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}

    canary_call()
    obs.flush()


def _leaks(haystacks: dict[str, bytes], needles: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (where, kind)
        for where, data in haystacks.items()
        for kind, needle in needles.items()
        if needle.encode() in data
    ]


@pytest.mark.filterwarnings("ignore:no price known")
def test_no_secret_and_no_prompt_reaches_any_byte(tmp_path: Path, collector, monkeypatch):
    endpoint, bodies = collector
    monkeypatch.setattr(capture_errors, "_reported", set())  # logged once a process
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    db = store_dir / "secrets.duckdb"
    records = _Records()
    logger = logging.getLogger("llmobs_nb")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(records)
    canary = f"canary{uuid.uuid4().hex[:12]}"
    needles = {case.kind: case.secret for case in CASES} | {"prompt": PROMPT}
    project = f"secrets {CASES[0].text}"  # a project name is text too (runs, spans, resource)
    obs = llmobs_nb.init(db=db, project=project, set_global=True, otlp_endpoint=endpoint)
    try:
        for case in CASES:
            _exercise(obs, case, canary)
        metrics = obs.metrics_text().encode()
        dumps = {
            table: str(obs.sql(f"select * from {table}").to_dicts()).encode()
            for table in ("spans", "scores", "runs")
        }
        wal = {p.name: p.read_bytes() for p in store_dir.iterdir() if p.name.endswith(".wal")}
        assert wal, "the WAL should exist before close"
        assert any(canary.encode() in data for data in wal.values())
        assert _leaks(wal, needles) == []
        assert _leaks(dumps, needles) == []
        # What was stored is readable and redacted, not dropped.
        assert REDACTED.encode() in dumps["spans"] and REDACTED.encode() in dumps["runs"]
        assert REDACTED.encode() in dumps["scores"]
        projects = obs.sql("select distinct project from spans union select project from runs")
        assert projects.rows() == [(f"secrets Incorrect API key provided: {REDACTED}.",)]
    finally:
        obs.close()
        logger.removeHandler(records)
        logger.setLevel(old_level)
    files = {p.name: p.read_bytes() for p in store_dir.iterdir() if p.is_file()}
    logs = "\n".join(records.text).encode()
    otlp = b"".join(bodies)
    assert canary.encode() in files[db.name], "the search must see text in the file"
    assert canary.encode() in logs and canary.encode() in metrics and canary.encode() in otlp
    assert b"could not read a response" in logs  # the capture failure was logged, redacted
    assert b"usage of span 'step " in logs  # and the usage problem, name and value redacted
    assert _leaks(files, needles) == []
    assert _leaks({"logs": logs}, needles) == []
    assert _leaks({"metrics": metrics}, needles) == []
    assert _leaks({"otlp": otlp}, needles) == []


def test_an_error_row_keeps_class_status_and_provider_code_without_content(tmp_path: Path):
    class RateLimitError(Exception):
        status_code = 429
        code = "rate_limit_exceeded"
        type = "requests"

    obs = llmobs_nb.init(db=tmp_path / "e.duckdb")
    try:

        @obs.observe(model="gpt-4o")
        def quiet(prompt: str) -> None:
            raise RateLimitError(f"Rate limit reached while answering {prompt!r}")

        @obs.observe(model="gpt-4o", capture_content=True)
        def loud(prompt: str) -> None:
            raise RateLimitError(f"limit reached for {prompt}, key {CASES[0].secret}")

        for fn in (quiet, loud):
            with pytest.raises(RateLimitError):
                fn(PROMPT)
        rows = obs.sql("select error_type, error_message from spans order by start_time").rows()
    finally:
        obs.close()
    assert rows[0] == (
        "RateLimitError",
        "RateLimitError (HTTP 429, code=rate_limit_exceeded, type=requests)",
    )
    assert rows[1] == (
        "RateLimitError",
        f"RateLimitError: limit reached for {PROMPT}, key {REDACTED}",
    )


def test_third_party_content_is_kept_only_when_the_observer_captures_content(tmp_path: Path):
    obs = llmobs_nb.init(db=tmp_path / "t.duckdb", set_global=True, capture_content=True)
    try:
        tracer = trace.get_tracer("openinference.instrumentation.openai")
        with tracer.start_as_current_span("ChatCompletion") as span:
            span.set_attributes(
                {
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "gpt-4o",
                    "input.value": PROMPT,
                    "llm.input_messages.0.message.content": PROMPT,
                }
            )
        row = obs.spans().row(0, named=True)
        assert row["input_text"] == PROMPT
        assert PROMPT in row["attributes"]
        llmobs_nb.init(db=tmp_path / "t.duckdb", set_global=True, capture_content=False)
        with tracer.start_as_current_span("ChatCompletion") as span:
            span.set_attributes({"openinference.span.kind": "LLM", "input.value": PROMPT})
        row = obs.spans().row(1, named=True)
        assert row["input_text"] is None and PROMPT not in row["attributes"]
    finally:
        obs.close()


class _Leaky:
    """An evaluator whose explanation quotes a secret, and that fails quoting another."""

    name = "leaky"
    version = "1"

    def __init__(self, quoted: str, failing: str) -> None:
        self.quoted, self.failing = quoted, failing

    def evaluate(self, call):  # type: ignore[no-untyped-def]
        from llmobs_nb.evals.protocol import EvalResult, EvaluationError

        if call.output == "fail":
            raise EvaluationError(f"judge said: {self.failing}")
        return EvalResult("leaky", 1.0, label="ok", explanation=f"found {self.quoted}")


def _score_ok_and_fail_online(obs, evaluator) -> None:
    """Two traced calls scored online by ``evaluator``: one it scores, one it fails on."""

    @obs.observe(model="gpt-4o", evaluators=[evaluator])
    def ask(answer: str) -> str:
        return answer

    ask("ok")
    ask("fail")
    obs.flush()
    for online in obs._online:
        online.online.drain()


def test_evaluator_explanations_and_errors_are_redacted(tmp_path):
    """Scores written by evaluators (batch and online) go through the same redaction as
    obs.score(): an explanation or an evaluation error quoting a secret keeps no secret."""
    quoted, failing = CASES[0].secret, CASES[1].secret
    leaky = _Leaky(quoted, failing)
    obs = llmobs_nb.init(db=tmp_path / "evals.duckdb", project="evals", capture_content=True)
    try:
        _score_ok_and_fail_online(obs, leaky)
        batch = _Leaky(quoted, failing)
        batch.name = "leaky_batch"  # the online scores are not redone: a second evaluator
        obs.evaluate([batch])
        scores = obs.scores()
        assert scores.height >= 4  # two online, two batch
        text = " ".join(str(v) for v in scores.select("comment", "source", "label").rows())
        assert quoted not in text and failing not in text
        assert REDACTED in text
    finally:
        obs.close()
    raw = (tmp_path / "evals.duckdb").read_bytes()
    assert quoted.encode() not in raw and failing.encode() not in raw


def test_with_content_off_online_scores_keep_no_explanation_text(tmp_path):
    """An online judge sees the answer even with content capture off; its explanation may
    quote it, so only the value and label are kept, and a failure keeps only its class."""
    leaky = _Leaky(PROMPT, PROMPT)
    obs = llmobs_nb.init(db=tmp_path / "off.duckdb", project="off")
    try:
        _score_ok_and_fail_online(obs, leaky)
        scores = obs.scores().sort("value", nulls_last=True)
        assert scores["value"].to_list() == [1.0, None]
        assert scores["label"].to_list() == ["ok", None]
        assert scores["comment"].to_list() == [None, "evaluation error: EvaluationError"]
    finally:
        obs.close()
    assert PROMPT.encode() not in (tmp_path / "off.duckdb").read_bytes()
