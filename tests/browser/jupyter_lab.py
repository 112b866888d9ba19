"""A real JupyterLab server on 127.0.0.1 for browser tests, isolated from the user's Jupyter.

Config, data, runtime, workspace and IPython directories all live under a temporary ``home``, so
no user setting, kernelspec, workspace or startup script leaks into a test, and the user
settings written here make the page quiet and offline (no news feed, no update check) and keep
every notebook cell in the DOM so a test can read each one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN = "llmobs-browser-test"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0

# Written as JupyterLab user settings: <plugin id> -> values.
USER_SETTINGS: dict[str, dict[str, Any]] = {
    # "none": cells below the viewport are attached too, so their prompts and outputs are
    # readable without scrolling (the default windowing detaches or skips them).
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    # The news prompt would cover part of a screenshot and fetch a feed from the internet.
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


@dataclass(frozen=True)
class RunningLab:
    """A JupyterLab server started by :func:`jupyter_lab`."""

    base_url: str
    token: str
    root_dir: Path
    log_path: Path

    def url(self, path: str) -> str:
        """The address of ``path`` (e.g. ``"lab/tree/01_tour.ipynb"``) with the token.

        Example:
            >>> lab.url("lab/tree/01_tour.ipynb?reset")   # doctest: +SKIP
            'http://127.0.0.1:41234/lab/tree/01_tour.ipynb?reset&token=llmobs-browser-test'
        """
        joiner = "&" if "?" in path else "?"
        return f"{self.base_url}/{path}{joiner}token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        """The decoded JSON answer of the REST endpoint ``/api/<path>`` (None when empty)."""
        request = urllib.request.Request(
            f"{self.base_url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, n_lines: int = 40) -> str:
        """The last lines of the server's log, to explain a failure."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n_lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def isolated_env(home: Path) -> dict[str, str]:
    """The environment for a server whose Jupyter and IPython state lives under ``home``."""
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_WORKSPACES_DIR": home / "workspaces",
        "JUPYTERLAB_SETTINGS_DIR": home / "config" / "lab" / "user-settings",
        "IPYTHONDIR": home / "ipython",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    settings_dir = dirs["JUPYTERLAB_SETTINGS_DIR"]
    for plugin_id, values in USER_SETTINGS.items():
        package, plugin = plugin_id.split(":")
        target = settings_dir / package / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update({name: str(path) for name, path in dirs.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def jupyter_lab(root_dir: Path, home: Path) -> Iterator[RunningLab]:
    """Run JupyterLab on ``root_dir`` until the block ends; yields the :class:`RunningLab`.

    The server listens on a free port of 127.0.0.1 with a fixed token and opens no browser.
    At the end its kernels are shut down and the server is stopped (terminate, then kill).

    Example:
        >>> with jupyter_lab(tmp_path / "notebooks", tmp_path / "jupyter") as lab:  # doctest: +SKIP
        ...     page.goto(lab.url("lab/tree/01_tour.ipynb?reset"))
    """
    port = free_port()
    log_path = home / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        # CI runs as root; the server is only on 127.0.0.1 and behind a token.
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    env = isolated_env(home)
    lab = RunningLab(f"http://127.0.0.1:{port}", TOKEN, root_dir, log_path)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_up(lab, process)
            yield lab
        finally:
            _stop(lab, process)


def _wait_until_up(lab: RunningLab, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {process.returncode} before answering:\n"
                f"{lab.log_tail()}"
            )
        try:
            lab.api("status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    raise TimeoutError(
        f"JupyterLab did not answer {lab.base_url}/api/status within {START_TIMEOUT_S:.0f} s:\n"
        f"{lab.log_tail()}"
    )


def _stop(lab: RunningLab, process: subprocess.Popen[bytes]) -> None:
    # Kernels first, through the API: a kernel killed with its server can outlive it as an orphan.
    if process.poll() is None:
        try:
            for kernel in lab.api("kernels"):
                lab.api(f"kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
