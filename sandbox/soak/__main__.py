"""``python -m sandbox.soak`` (``make soak``)."""

import sys

from sandbox.soak.run import main

sys.exit(main())
