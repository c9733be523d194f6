"""A port counts as free for the sandbox's servers when only a stopped server's closed connections (TIME_WAIT)
hold it, as the servers bind with SO_REUSEADDR; a port another server listens on does not."""

from __future__ import annotations

import socket

from sandbox.agentcore import PaymentsApiServer
from sandbox.aws.server import port_is_free


def test_a_port_whose_server_closed_its_connections_first_is_free_at_once():
    # Given a server that accepted a connection and closed it first (its side now in TIME_WAIT), then stopped
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _address = listener.accept()
    accepted.close()
    client.recv(1)  # the server's FIN has arrived
    client.close()
    listener.close()

    # When the sandbox asks whether the port is free
    # Then it is, and a server binds it
    assert port_is_free("127.0.0.1", port)
    with PaymentsApiServer(port=port) as api:
        assert api.port == port


def test_a_port_a_server_listens_on_is_not_free():
    # Given a server listening (with SO_REUSEADDR, as the sandbox's servers do)
    with PaymentsApiServer() as api:
        # When the sandbox asks whether its port is free
        # Then it is not
        assert not port_is_free("127.0.0.1", api.port)
