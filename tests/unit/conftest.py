"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fakes.harness import Harness


@pytest.fixture
def harness() -> Iterator[Harness]:
    with ThreadPoolExecutor(max_workers=10) as executor:
        yield Harness(executor)
