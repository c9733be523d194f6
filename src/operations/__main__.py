"""``python -m operations``: the same as the ``payment-session-worker`` command."""

from operations.cli import main

raise SystemExit(main())
