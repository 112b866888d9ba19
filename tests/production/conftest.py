"""Fixtures that run the real Prometheus tools: promtool and a prometheus server on 127.0.0.1.

Both come from Debian's ``prometheus`` package (``apt-get install -y prometheus``); tests that
need them skip, saying so, when the binaries are missing.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed: apt-get install -y prometheus (CI installs it)")
    return path


@pytest.fixture(scope="session")
def promtool() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``promtool <args>``; returns the completed process (stdout/stderr as text)."""
    binary = _binary("promtool")

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *args], input=stdin, capture_output=True, text=True, timeout=60
        )

    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Prometheus:
    """A prometheus server started by a test, queried through its HTTP API."""

    url: str

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns the vector's elements (``metric`` and ``value``)."""
        data = self.api("query", query=promql, time=at)
        assert data["resultType"] == "vector", data
        return data["result"]

    def scalar(self, promql: str, at: float | None = None) -> float:
        """Instant query expected to return exactly one element; returns its value."""
        result = self.query(promql, at)
        assert len(result) == 1, f"{promql} returned {result}"
        return float(result[0]["value"][1])

    def wait_for(self, check: Callable[[], bool], timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout_s} s: {check}")
            time.sleep(0.25)


@pytest.fixture(scope="module")
def start_prometheus(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Prometheus]]:
    """``start(config, storage=None, *flags)``: run ``prometheus`` on a free 127.0.0.1 port.

    ``config`` is the prometheus.yml text; relative paths in it (rule files) are resolved
    against ``workdir`` (returned as ``Prometheus.workdir``), which the caller may fill first
    by passing ``workdir=``. The servers stop at the end of the test module.
    """
    binary = _binary("prometheus")
    procs: list[subprocess.Popen[bytes]] = []

    def start(
        config: str, storage: Path | None = None, *extra: str, workdir: Path | None = None
    ) -> Prometheus:
        tmp_path = workdir or tmp_path_factory.mktemp("prometheus")
        config_file = tmp_path / "prometheus.yml"
        config_file.write_text(config)
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={storage or tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        server = Prometheus(f"http://127.0.0.1:{port}")

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(
                    f"prometheus exited: {(tmp_path / 'prometheus.log').read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as resp:
                    return resp.status == 200
            except OSError:
                return False

        server.wait_for(ready, timeout_s=30)
        return server

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _realistic_calls(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` call rows with llm_calls columns: two providers, streaming, errors, unpriced calls."""
    import random

    rng = random.Random(seed)
    models = [("gpt-4o", "openai"), ("claude-sonnet-4", "anthropic"), ("local-llama", None)]
    rows = []
    for i in range(n):
        model, provider = models[i % 3]
        failed = rng.random() < 0.08
        streamed = i % 2 == 0
        rows.append(
            {
                "model": model,
                "provider": provider,
                "operation": "chat" if i % 5 else "embeddings",
                "use_case": "customer_service" if i % 4 else None,
                "latency_s": round(rng.lognormvariate(0.3, 0.9), 6),
                "ttft_s": round(rng.uniform(0.05, 1.5), 6) if streamed else None,
                "status": "error" if failed else "ok",
                "error_type": rng.choice(["RateLimitError", "APITimeoutError"]) if failed else None,
                "input_tokens": None if failed else rng.randint(20, 4000),
                "output_tokens": None if failed else rng.randint(1, 800),
                "cached_input_tokens": 0,
                "reasoning_tokens": None,
                "cost_usd": None if model == "local-llama" or failed else rng.uniform(1e-4, 2e-2),
            }
        )
    return rows


@pytest.fixture(scope="session")
def realistic_calls() -> Callable[..., list[dict[str, Any]]]:
    """``realistic_calls(n, seed=7)``: call rows as the observer hands them to ObserverMetrics."""
    return _realistic_calls
