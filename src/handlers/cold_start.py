"""The cold start's one tweak: no cyclic garbage collection while the modules load and the clients are built.

A cold start creates hundreds of thousands of long-lived objects (modules, botocore's service models, pydantic's
validators), and the collector would scan them again and again for nothing; measured, pausing it takes about a
tenth off the cold start (docs/PERFORMANCE.md). ``collector_paused`` restores the collector's state as it found
it; with ``freeze=True`` it first moves what was built out of the generations the collector scans
(``gc.freeze``), since it lives as long as the process. Both the handler's imports and the wiring freeze: without
it, the first allocation after the pause starts a collection of everything the imports made (about 13 ms at
a full core, measured with ``python -X importtime``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """Disable the cyclic collector inside the block; afterwards freeze what exists (``freeze``), then restore."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()
