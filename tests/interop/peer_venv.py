"""Where a peer system's virtualenv is (``scripts/install-peers.sh`` makes them), for the tests.

One rule for every peer (Phoenix, MLflow): ``$<NAME>_VENV`` if set, else ``.venv-<name>`` in
this checkout, else the one in /work/main (git worktrees share the one made there). A test that
needs a missing peer skips, except under CI, where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def peer_venv(name: str, executable: str) -> Path | None:
    """The virtualenv of peer ``name`` that has ``bin/<executable>``, or None.

    Example:
        >>> venv = peer_venv("phoenix", "phoenix")
        >>> venv is None or (venv / "bin" / "phoenix").exists()
        True
    """
    given = os.environ.get(f"{name.upper()}_VENV")
    candidates = [ROOT / f".venv-{name}", Path(f"/work/main/.venv-{name}")]
    for venv in [Path(given)] if given else candidates:
        if (venv / "bin" / executable).exists():
            return venv
    return None


def require_peer_venv(name: str, executable: str, title: str) -> Path:
    """The virtualenv of peer ``name``; skips the test without it (fails under CI).

    Example:
        >>> require_peer_venv("phoenix", "phoenix", "Phoenix")  # doctest: +SKIP
        PosixPath('/work/main/.venv-phoenix')
    """
    venv = peer_venv(name, executable)
    if venv is not None:
        return venv
    why = (
        f"no {title} virtualenv (.venv-{name} with bin/{executable}): run "
        f"scripts/install-peers.sh or set {name.upper()}_VENV"
    )
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)
