"""Without the Phoenix virtualenv the interop tests skip, except under CI, where they fail."""

from __future__ import annotations

import pytest

from tests.interop.phoenix_server import require_phoenix_venv


def test_a_missing_phoenix_venv_skips_outside_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("PHOENIX_VENV", str(tmp_path / "none"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Phoenix virtualenv"):
        require_phoenix_venv()


def test_a_missing_phoenix_venv_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("PHOENIX_VENV", str(tmp_path / "none"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"scripts/install-peers\.sh"):
        require_phoenix_venv()


def test_a_given_phoenix_venv_is_used(monkeypatch, tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "phoenix").write_text("")
    monkeypatch.setenv("PHOENIX_VENV", str(tmp_path))
    assert require_phoenix_venv() == tmp_path
