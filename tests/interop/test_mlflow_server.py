"""The MLflow test server itself: skipped without its virtualenv (failed under CI), answers its
REST API, takes OTLP only with an experiment header, and stops with its children."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest

from tests.interop.mlflow_server import MLflow, create_experiment, require_mlflow_venv


def test_a_missing_mlflow_venv_skips_outside_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_VENV", str(tmp_path / "none"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no MLflow virtualenv"):
        require_mlflow_venv()


def test_a_missing_mlflow_venv_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_VENV", str(tmp_path / "none"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"scripts/install-peers\.sh"):
        require_mlflow_venv()


def test_a_given_mlflow_venv_is_used(monkeypatch, tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "mlflow").write_text("")
    monkeypatch.setenv("MLFLOW_VENV", str(tmp_path))
    assert require_mlflow_venv() == tmp_path


@pytest.mark.slow
def test_experiments_are_made_and_otlp_needs_the_experiment_header(mlflow: MLflow):
    first, second = create_experiment(mlflow, "a"), create_experiment(mlflow, "b")
    assert first != second and first.isdigit()
    request = urllib.request.Request(
        mlflow.traces_endpoint,
        data=b"",
        headers={"content-type": "application/x-protobuf"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as rejected:
        urllib.request.urlopen(request, timeout=10)
    assert rejected.value.code == 422  # FastAPI: the required header is missing
    assert mlflow.process.poll() is None
    os.killpg(mlflow.process.pid, 0)  # its process group is alive (the fixture stops it)
