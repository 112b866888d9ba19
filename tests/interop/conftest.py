"""One real Phoenix server and one real MLflow tracking server for the interop tests of a
session (each takes ~20-50 s to start), started only when a test asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.mlflow_server import MLflow, mlflow_server
from tests.interop.phoenix_server import Phoenix, phoenix_server


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    with phoenix_server(tmp_path_factory.mktemp("phoenix")) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLflow]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server
