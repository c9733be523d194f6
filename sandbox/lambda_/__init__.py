"""Lambda, emulated without Docker: the SQS event source mapping, the function's process, its context, ``invoke``.

:mod:`~sandbox.lambda_.event_source` (what Lambda does between the request queue and the handler), with
:mod:`~sandbox.lambda_.sqs_event` (its event and how it reads the answer) and :mod:`~sandbox.lambda_.fifo_groups`
(FIFO queues); :mod:`~sandbox.lambda_.environment` (what the function's process sees);
:mod:`~sandbox.lambda_.context` (the context object); :mod:`~sandbox.lambda_.invoke` and its child
:mod:`~sandbox.lambda_.invoke_child` (``sandbox invoke``, the twin of ``sam local invoke``).
"""
