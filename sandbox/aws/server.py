"""The embedded AWS: moto in server mode on 127.0.0.1, plus boto3 clients and environment pointed at it.

Two ways to run moto, same API:

* ``mode="process"`` (default): ``python -m moto.server`` in a child process. Isolated from any ``mock_aws``
  in the calling process, and it runs on its own core, which matters when the worker's threads keep the
  calling process busy.
* ``mode="thread"``: ``moto.server.ThreadedMotoServer`` in a daemon thread of the calling process.

Either way the server speaks the real AWS wire protocols, so unmodified boto3 clients and the aws CLI work
against ``endpoint_url``. Either way it binds with ``SO_REUSEADDR`` (werkzeug's server sets
``allow_reuse_address``, as the fake payments API's does), so a sandbox stopped with Ctrl-C can start again on
the same ports at once; :func:`port_is_free` asks as they bind.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Final, Literal, Self

import boto3

from sandbox.service import Service

DEFAULT_REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "123456789012"  # moto's default account
DUMMY_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
READY_TIMEOUT_SECONDS: Final = 30.0

MotoMode = Literal["process", "thread"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Whether a server can listen on ``port`` of ``host``, as the sandbox's servers bind: with ``SO_REUSEADDR``
    (moto's werkzeug server and the fake payments API set it), so the connections a stopped sandbox left in
    TIME_WAIT do not count, and only a listener does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


_client_lock = threading.Lock()


@functools.cache
def session(region: str = DEFAULT_REGION) -> boto3.session.Session:
    """A boto3 session with the sandbox's dummy credentials: nothing can reach a real AWS account with it.

    One per region and process: service models are loaded once.
    """
    return boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=region,
    )


def client(service: str, endpoint_url: str, region: str = DEFAULT_REGION) -> Any:
    """A boto3 client of ``service`` talking to the sandbox at ``endpoint_url`` (safe from any thread)."""
    with _client_lock:
        return session(region).client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def sdk_environment(endpoint_url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Variables that point the aws CLI and any boto3 client at the sandbox (``AWS_ENDPOINT_URL``)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **DUMMY_CREDENTIALS,
    }


def wait_until_serving(endpoint_url: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Poll moto's own API until it answers; ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            url = f"{endpoint_url}/moto-api/data.json"  # http:// by construction
            with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.05)
    raise TimeoutError(f"moto did not answer at {endpoint_url} within {timeout:.0f}s: {last_error}")


class MotoServer(Service):
    """moto in server mode on ``host:port`` (``port=0``: a free port); a context manager.

    ``endpoint_url`` is the base URL for boto3's ``endpoint_url`` and ``AWS_ENDPOINT_URL``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        mode: MotoMode = "process",
        region: str = DEFAULT_REGION,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.host = host
        self.region = region
        self.mode: MotoMode = mode
        self._requested_port = port
        self._port: int | None = None
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._thread_server: Any = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start moto and wait until it answers; returns ``self``."""
        if self._port is not None:
            raise RuntimeError("moto is already running")
        if self.mode == "thread":
            self._start_thread()
        else:
            self._start_process()
        try:
            wait_until_serving(self.endpoint_url)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_thread(self) -> None:
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request at INFO; the sandbox's output is about the worker, not moto.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address=self.host, port=self._requested_port, verbose=False)
        server.start()
        self._thread_server = server
        self._port = int(server.get_host_and_port()[1])

    def _start_process(self) -> None:
        port = self._requested_port or free_port(self.host)
        if not port_is_free(self.host, port):
            raise OSError(f"port {port} on {self.host} is in use (another sandbox running?)")
        with contextlib.ExitStack() as stack:
            log = (
                stack.enter_context(open(self._log_path, "ab"))  # the child's stdout/stderr
                if self._log_path is not None
                else subprocess.DEVNULL
            )
            self._process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                # Its own session: a Ctrl-C in the terminal reaches the sandbox, which stops moto last.
                start_new_session=True,
            )
        self._port = port

    def stop(self) -> None:
        """Stop moto (idempotent); its state is gone."""
        if self._thread_server is not None:
            server, self._thread_server = self._thread_server, None
            server.stop()
            inner = getattr(server, "_server", None)
            if inner is not None:
                inner.server_close()
        if self._process is not None:
            process, self._process = self._process, None
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._port = None

    # -- use -----------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise RuntimeError("moto is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://host:port``."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` talking to this server."""
        return client(service, self.endpoint_url, self.region)

    def environment(self) -> dict[str, str]:
        """``AWS_ENDPOINT_URL``, region and dummy credentials for the aws CLI or boto3."""
        return sdk_environment(self.endpoint_url, self.region)

    def reset(self) -> None:
        """Forget every resource (moto's ``/moto-api/reset``)."""
        url = f"{self.endpoint_url}/moto-api/reset"  # http:// by construction
        request = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10.0):  # noqa: S310
            pass


def describe_environment(values: Mapping[str, str]) -> str:
    """``export NAME=value`` lines for a POSIX shell."""
    return "\n".join(f"export {name}={value}" for name, value in values.items())


def aws_cli_hints(endpoint_url: str, request_queue_url: str, dead_letter_queue_url: str) -> list[str]:
    """aws CLI lines that run as printed with v1 and v2 (``--endpoint-url``: v1 ignores ``AWS_ENDPOINT_URL`` for
    SQS): send a request to the request queue, read the dead-letter queue."""
    body = shlex.quote(json.dumps({"expiryTimeInMinutes": 60}))
    return [
        f"aws --endpoint-url {endpoint_url} sqs send-message --queue-url {request_queue_url} --message-body {body}",
        f"aws --endpoint-url {endpoint_url} sqs receive-message --queue-url {dead_letter_queue_url}"
        " --message-attribute-names All",
    ]
