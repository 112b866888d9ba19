"""One real Phoenix server for the interop tests of a session (it takes ~30-50 s to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.phoenix_server import Phoenix, phoenix_server


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    with phoenix_server(tmp_path_factory.mktemp("phoenix")) as server:
        yield server
