"""The export child process: light to start, answers every frame, counts what it could not send."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pytest

import llmobs_nb
from llmobs_nb.otlp import row_export
from llmobs_nb.otlp.frames import SPANS, read_frame, write_frame
from llmobs_nb.otlp.worker import Config, run
from tests.scaleout.otlp_receiver import OTLPReceiver


def _rows(tmp_path, n: int = 3) -> pa.Table:
    obs = llmobs_nb.init(db=tmp_path / "w.duckdb", project="worker-test")

    @obs.observe(model="gpt-4o", operation="chat", provider="openai")
    def ask(i: int) -> dict:
        return {"model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}

    for i in range(n):
        ask(i)
    obs.flush()
    table = obs.sql("select * from spans").to_arrow()
    obs.close()
    return table


def test_the_child_imports_neither_polars_nor_duckdb_nor_pandas(tmp_path) -> None:
    # what the child loads decides how soon it is ready after init(): it must stay light
    frame = io.BytesIO()
    write_frame(frame, SPANS, _rows(tmp_path))
    check = row_export._BOOT.replace(
        "from llmobs_nb.otlp.worker import main\nsys.exit(main())\n",
        "from llmobs_nb.otlp.frames import read_frame\n"
        "from llmobs_nb.otlp.encode import encode_spans\n"
        "kind, table = read_frame(sys.stdin.buffer)\n"
        "assert encode_spans(table, resource={})\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'polars', 'duckdb', 'pandas'}))\n",
    )
    assert check != row_export._BOOT
    done = subprocess.run(
        [sys.executable, "-c", check, row_export._PACKAGE_ROOT + "/llmobs_nb"],
        input=frame.getvalue(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "[]"


def test_each_frame_is_answered_in_order_with_what_was_sent(tmp_path) -> None:
    rows = _rows(tmp_path, 4)
    frames = io.BytesIO()
    write_frame(frames, SPANS, rows.slice(0, 3))
    write_frame(frames, SPANS, rows.slice(3, 1))
    frames.seek(0)
    answers: list[dict] = []
    with OTLPReceiver() as receiver:
        run(
            Config(endpoint=receiver.endpoint),
            frames,
            lambda line: answers.append(json.loads(line)),
        )
        received = {s["span_id"] for s in receiver.spans}
    assert answers[0] == {"ready": True}
    assert answers[1:] == [{"sent": 3, "failed": 0}, {"sent": 1, "failed": 0}]
    assert received == set(rows["span_id"].to_pylist())


@contextmanager
def answering(status: int) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 that answers every POST with ``status``."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "tries"), [(400, 1), (503, 2)])
def test_a_refused_request_is_answered_as_failed_with_the_reason(tmp_path, status, tries) -> None:
    frames = io.BytesIO()
    write_frame(frames, SPANS, _rows(tmp_path, 2))
    frames.seek(0)
    answers: list[dict] = []
    with answering(status) as (url, seen):
        run(Config(endpoint=url), frames, lambda line: answers.append(json.loads(line)))
    assert answers[1]["sent"] == 0 and answers[1]["failed"] == 2
    assert answers[1]["error"].startswith(f"HTTP {status}")
    assert len(seen) == tries  # a retryable status is tried once more, a refusal is not


def test_a_cut_stream_ends_cleanly() -> None:
    frame = io.BytesIO()
    write_frame(frame, SPANS, pa.table({"span_id": ["a"]}))
    cut = io.BytesIO(frame.getvalue()[:-3])
    assert read_frame(cut) is None
