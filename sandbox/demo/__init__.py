"""``python -m sandbox demo``: the worker's real job on the sandbox, and the scenarios around it.

:mod:`~sandbox.demo.run` (the demo), :mod:`~sandbox.demo.load` (the requests it and the soak send),
:mod:`~sandbox.demo.fates` (what became of each), :mod:`~sandbox.demo.round_trip` (the DLQ round trip),
:mod:`~sandbox.demo.fifo` (``--fifo``), :mod:`~sandbox.demo.fair_tenants` (``--tenants``),
:mod:`~sandbox.demo.token_window` (late replays past the API's token window) and :mod:`~sandbox.demo.tables`.
"""
