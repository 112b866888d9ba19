"""The Binder environment: repo2docker reads it, and its requirements install the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_repo2docker_dry_run_builds_the_environment_from_binder():
    repo2docker = shutil.which("repo2docker") or str(Path(sys.executable).parent / "repo2docker")
    if not Path(repo2docker).exists():
        pytest.skip("repo2docker is not installed (pip install jupyter-repo2docker)")
    result = subprocess.run(
        [repo2docker, "--no-build", "--debug", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    dockerfile = result.stdout + result.stderr
    assert result.returncode == 0, dockerfile[-2000:]
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    assert "./binder/postBuild" in dockerfile
    assert "python=3.11" in dockerfile or "python-3.11" in dockerfile or "3.11" in dockerfile


def test_binder_requirements_install_the_package(tmp_path):
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "-r",
            "binder/requirements.txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    import json

    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"llmobs_nb", "jupyterlab", "ipywidgets", "altair", "openai", "xllamacpp"} <= names


def test_binder_badge_in_readme_opens_the_tour():
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org/v2/" in readme
    assert "urlpath=lab/tree/notebooks/01_tour.ipynb" in readme
