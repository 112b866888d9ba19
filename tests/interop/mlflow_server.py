"""A real MLflow tracking server for the interop tests, and a reader of the traces it keeps.

MLflow lives in its own virtualenv (``.venv-mlflow``, made by ``scripts/install.sh`` from
``requirements/mlflow.txt``) so its pins never touch ours. :func:`mlflow_server` starts
``mlflow server`` from there on 127.0.0.1 with a free port, a SQLite backend store and an
artifact root in a temporary directory, one worker and no telemetry; waits (with a deadline)
until ``/health`` answers; and stops it by its process group (it runs uvicorn and a job runner
as children): terminate, then kill. MLflow ingests OTLP/HTTP at ``<url>/v1/traces`` into the
experiment named by the ``x-mlflow-experiment-id`` header. Without the virtualenv the tests are
skipped, except under CI (``CI`` set), where a missing MLflow is a failure.

Example:
    >>> with mlflow_server(tmp_path) as mlflow:                      # doctest: +SKIP
    ...     exp = create_experiment(mlflow, "demo")
    ...     llmobs_nb.init(db=..., otlp_endpoint=mlflow.traces_endpoint,
    ...                    otlp_headers={EXPERIMENT_HEADER: exp})
    ...     traces = read_traces(mlflow, exp, spans=5)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.interop.peer_venv import peer_venv, require_peer_venv
from tests.interop.phoenix_server import free_port, wait_for

START_DEADLINE_S = 120.0  # a cold start creates the SQLite schema (~80 migrations)
EXPERIMENT_HEADER = "x-mlflow-experiment-id"
"""The header naming the experiment OTLP spans go into (MLflow rejects a request without it)."""
_FOREIGN_ENV = ("MLFLOW_", "OTEL_", "DATABRICKS_")


def mlflow_venv() -> Path | None:
    """The MLflow virtualenv (with a ``bin/mlflow``), or None (see ``peer_venv``)."""
    return peer_venv("mlflow", "mlflow")


def require_mlflow_venv() -> Path:
    """The MLflow virtualenv; skips the test without it (fails under CI)."""
    return require_peer_venv("mlflow", "mlflow", "MLflow")


@dataclass(frozen=True)
class MLflow:
    """A running MLflow tracking server: its base URL, process, venv and log file."""

    url: str
    process: subprocess.Popen[bytes]
    venv: Path
    log: Path

    @property
    def traces_endpoint(self) -> str:
        """``<url>/v1/traces``, where OTLP/HTTP exporters send."""
        return f"{self.url}/v1/traces"

    @property
    def python(self) -> str:
        """The virtualenv's interpreter (MLflow's own client is importable there)."""
        return str(self.venv / "bin" / "python")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
    return {**env, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def _healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> bool | None:
    if process.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{tail}")
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return True if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def stop_group(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Stop a process we started in a session of its own, with its children: SIGTERM to its
    process group, then SIGKILL after ``grace_s``.

    Example:
        >>> p = subprocess.Popen(["sleep", "60"], start_new_session=True)
        >>> stop_group(p); p.returncode is not None
        True
    """
    _signal_group(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    _signal_group(process.pid, signal.SIGKILL)  # children that outlived the leader, or all
    process.wait(timeout=grace_s)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(group, sig)  # the group's id is our child's pid (start_new_session)


@contextmanager
def mlflow_server(workdir: Path) -> Iterator[MLflow]:
    """Run ``mlflow server`` on 127.0.0.1 (a free port, SQLite in ``workdir``) until exit.

    Example:
        >>> with mlflow_server(tmp_path) as mlflow:      # doctest: +SKIP
        ...     print(mlflow.traces_endpoint)
        http://127.0.0.1:40123/v1/traces
    """
    venv = require_mlflow_venv()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        str(venv / "bin" / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--default-artifact-root",
        str(workdir / "artifacts"),
        "--workers",
        "1",
    ]
    log = workdir / "mlflow.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=_clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url, process, log), START_DEADLINE_S, "mlflow /health")
        yield MLflow(url, process, venv, log)
    finally:
        stop_group(process)


def post_json(url: str, body: dict[str, Any], timeout: float = 10.0) -> Any:
    """POST ``body`` as JSON to ``url`` and parse the JSON answer.

    Example:
        >>> post_json(f"{mlflow.url}/api/2.0/mlflow/experiments/create", {"name": "x"})
        ... # doctest: +SKIP
        {'experiment_id': '1'}
    """
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def create_experiment(mlflow: MLflow, name: str) -> str:
    """Create an experiment through the REST API; returns its id.

    Example:
        >>> create_experiment(mlflow, "llmobs-test")  # doctest: +SKIP
        '1'
    """
    url = f"{mlflow.url}/api/2.0/mlflow/experiments/create"
    return str(post_json(url, {"name": name})["experiment_id"])


# Runs in the MLflow virtualenv: polls the experiment until it holds `spans` spans (MLflow
# writes a request's spans before it answers, but our export is asynchronous), then prints
# every trace as JSON with its spans' attributes decoded (MLflow stores them JSON-encoded).
_READER = r"""
import json, sys, time
import mlflow
from mlflow.tracing.constant import SpanAttributeKey

url, experiment, wanted, deadline = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
mlflow.set_tracking_uri(url)
end = time.monotonic() + deadline
delay = 0.05
while True:
    traces = mlflow.search_traces(locations=[experiment], return_type="list", max_results=500)
    count = sum(len(t.data.spans) for t in traces)
    if count >= wanted or time.monotonic() > end:
        break
    time.sleep(delay)
    delay = min(delay * 2, 0.5)
out = []
for trace in traces:
    info = trace.info
    spans = []
    for span in trace.data.spans:
        spans.append({
            "name": span.name,
            "span_id": span.span_id,
            "parent_id": span.parent_id,
            "span_type": span.span_type,
            "status": span.status.status_code.value,
            "status_message": span.status.description,
            "start_ns": span.start_time_ns,
            "end_ns": span.end_time_ns,
            "inputs": span.inputs,
            "outputs": span.outputs,
            "attributes": span.attributes,
            "events": [
                {"name": e.name, "timestamp": e.timestamp, "attributes": dict(e.attributes or {})}
                for e in span.events
            ],
        })
    out.append({
        "trace_id": info.trace_id,
        "state": str(info.state.value if hasattr(info.state, "value") else info.state),
        "metadata": dict(info.trace_metadata),
        "tags": dict(info.tags),
        "token_usage": info.token_usage,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "spans": spans,
    })
print(json.dumps({"count": count, "traces": out}, default=str))
"""


def read_traces(mlflow: MLflow, experiment_id: str, spans: int, deadline_s: float = 20.0) -> dict:
    """Every trace of an experiment, read with MLflow's own client (``search_traces``) in its
    virtualenv, once the experiment holds at least ``spans`` spans (or the deadline passed):
    ``{"count": n, "traces": [{"trace_id", "state", "metadata", "tags", "token_usage",
    "request_preview", "response_preview", "spans": [{"name", "span_id", "parent_id",
    "span_type", "status", "inputs", "outputs", "attributes", "events", ...}]}]}``.

    Example:
        >>> read_traces(mlflow, "1", spans=5)["count"]  # doctest: +SKIP
        5
    """
    done = subprocess.run(
        [mlflow.python, "-c", _READER, mlflow.url, experiment_id, str(spans), str(deadline_s)],
        capture_output=True,
        timeout=deadline_s + 60,
        env=_clean_env(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"mlflow trace reader failed:\n{done.stderr.decode()[-3000:]}")
    return json.loads(done.stdout)


__all__ = [
    "EXPERIMENT_HEADER",
    "MLflow",
    "create_experiment",
    "mlflow_server",
    "mlflow_venv",
    "post_json",
    "read_traces",
    "require_mlflow_venv",
    "stop_group",
]
