"""Every control endpoint of the fake payments API (``/_sandbox/*``) is documented in README.md and docs/SANDBOX.md."""

from __future__ import annotations

import pytest

from sandbox.agentcore.operation import CONTROL_PREFIX
from sandbox.agentcore.server import CONTROL_ROUTES
from sandbox.aws.stack import ROOT

DOCUMENTS = ("README.md", "docs/SANDBOX.md")


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize(("method", "action"), sorted(CONTROL_ROUTES))
def test_each_control_endpoint_of_the_server_is_in_the_document(document: str, method: str, action: str):
    # Given a route the fake API serves under /_sandbox/
    endpoint = f"{method} {CONTROL_PREFIX}{action}"

    # Then the document names it, method and path
    assert endpoint in (ROOT / document).read_text(encoding="utf-8")
