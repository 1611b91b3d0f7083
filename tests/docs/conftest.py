"""One `make serve` demo for every document's examples (tests/support/demo.py), anchored at today like serve's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.demo import Demo, start_demo, utc_today


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo store, certificates and server, as `make serve` builds and starts them, on free ports."""
    running = start_demo(tmp_path_factory.mktemp("demo") / "checkout", utc_today())
    yield running
    running.stop()
