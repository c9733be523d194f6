"""The operator's command, ``payment-session-worker`` (CONTRACT section 8): read the DLQ, move it back.

Installed with the project (``[project.scripts]``), never shipped in the Lambda package (``scripts/build.sh``
leaves this package out). It imports the domain only: no handler or adapter imports it.
"""
