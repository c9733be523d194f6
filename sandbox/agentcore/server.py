"""The fake on a local HTTP port: rest-json over HTTP/1.1 (keep-alive), the API's routes and the control endpoints."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Self
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.agentcore.faults import FaultSettings
from sandbox.agentcore.operation import (
    CONTROL_PREFIX,
    MISSING_AUTH,
    UNKNOWN_OPERATION,
    ApiSpec,
    ErrorAnswer,
    OperationSpec,
    load_api_spec,
)
from sandbox.agentcore.state import Abandoned, SandboxState
from sandbox.agentcore.wire import Rejected, decode_json_object, read_operation_input
from sandbox.service import Service

SIGV4_SCHEME: Final = "AWS4-HMAC-SHA256"
MAX_BODY_BYTES: Final = 1024 * 1024


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], state: SandboxState, api: ApiSpec, verbose: bool) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.state = state
        self.api = api
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)
        self.server.state.record_connection()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def version_string(self) -> str:
        return "payments-sandbox"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- plumbing ------------------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_plain(411, {"message": "Content-Length is required"}, close=True)
            return None
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        if not length_text.isdigit():
            self._send_plain(400, {"message": "Invalid Content-Length"}, close=True)
            return None
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._send_plain(413, {"message": "Request body too large"}, close=True)
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _send(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = (), close: bool = False) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        if close:
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send_plain(self, status: int, payload: Any, close: bool = False) -> None:
        self._send(status, payload, close=close)

    def _send_api(
        self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = (), operation: str | None = None
    ) -> None:
        # Counted before it is written: a client that has its answer finds it in the stats.
        self.server.state.record_response(status, operation)
        self._send(status, payload, headers)

    def _send_error_answer(self, error: ErrorAnswer, operation: str | None = None) -> None:
        self._send_api(error.status, error.body(), [("x-amzn-ErrorType", error.code)], operation)

    # -- routing -------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        if url.path.startswith(CONTROL_PREFIX):
            self._control(url.path[len(CONTROL_PREFIX) :], url.query, body)
            return
        route = self.server.api.route(self.command, url.path)
        if route is None:
            self._send_error_answer(ErrorAnswer(UNKNOWN_OPERATION, 404, f"No operation at {self.command} {url.path}"))
            return
        if not self.headers.get("Authorization", "").startswith(SIGV4_SCHEME):
            self._send_error_answer(ErrorAnswer(MISSING_AUTH, 403, "Missing Authentication Token"))
            return
        spec, labels = route
        self._call(spec, url.query, {name: unquote(value) for name, value in labels.items()}, body)

    def _call(self, spec: OperationSpec, query: str, labels: Mapping[str, str], body: bytes) -> None:
        """One call of ``spec``'s operation: its fate first, then validation, then the state's answer."""
        server = self.server
        document: dict[str, Any] | None = None
        parse_error: ErrorAnswer | None = None
        try:
            document = decode_json_object(spec, body)
        except Rejected as rejected:
            parse_error = rejected.error
        plan = server.state.begin_call(spec, self._peek_token(spec, document))
        if not plan.commit_first and plan.delay_seconds > 0 and plan.abandoned.wait(plan.delay_seconds):
            self.close_connection = True
            return
        error = plan.error or parse_error
        if error is None and document is not None:
            try:
                params = read_operation_input(spec, self.headers, query, labels, document)
                response = server.state.answer(spec, params, plan.generation)
            except Rejected as rejected:
                error = rejected.error
            except Abandoned:
                self.close_connection = True
                return
            else:
                # The late-commit fault: committed, then answered too late for a caller that gave up.
                if plan.commit_first and plan.delay_seconds > 0 and plan.abandoned.wait(plan.delay_seconds):
                    self.close_connection = True
                    return
                self._send_api(spec.success_status, response, operation=spec.name)
                return
        assert error is not None
        self._send_error_answer(error, spec.name)

    def _peek_token(self, spec: OperationSpec, document: Mapping[str, Any] | None) -> str | None:
        """The idempotency token of a request, before validation (for scripts and counters)."""
        name = spec.token_member
        if name is None:
            return None
        member = spec.input_shape.members[name]
        if member.serialization.get("location") == "header":
            value: Any = self.headers.get(member.serialization.get("name", name))
        else:
            value = document.get(name) if document is not None else None
        return value if isinstance(value, str) else None

    def _control(self, action: str, query: str, body: bytes) -> None:
        answer = CONTROL_ROUTES.get((self.command, action))
        if answer is None:
            self._send_plain(404, {"message": f"No sandbox endpoint at {self.command} {CONTROL_PREFIX}{action}"})
            return
        try:
            self._send_plain(200, answer(self.server.state, query, body))
        except (TypeError, ValueError) as exc:
            self._send_plain(400, {"message": str(exc)})


def _control_object(body: bytes) -> dict[str, Any]:
    document = json.loads(body.decode("utf-8")) if body.strip() else {}
    if not isinstance(document, dict):
        raise ValueError("the body must be a JSON object")
    return document


def _stats(state: SandboxState, query: str, body: bytes) -> Any:
    include = parse_qs(query).get("sessions", ["true"])[0] != "false"
    return state.snapshot(include_sessions=include)


def _faults(state: SandboxState, query: str, body: bytes) -> Any:
    return state.set_faults(**_control_object(body)).as_dict()


def _script(state: SandboxState, query: str, body: bytes) -> Any:
    options = _control_object(body)
    code = options.pop("code", None)
    if code is None:
        if "delay_ms" not in options:
            raise ValueError("a script needs a code, a delay_ms, or both")
        return {"scripted_pending": state.delay_next(options.pop("delay_ms"), **options)}
    return {"scripted_pending": state.fail_next(str(code), **options)}


def _reset(state: SandboxState, query: str, body: bytes) -> Any:
    state.reset()
    return state.snapshot()


# The control endpoints, CONTROL_PREFIX + action (not part of the AWS API, no authentication; README.md lists
# each): (method, action) -> the answer, JSON, from the state, the query string and the body.
CONTROL_ROUTES: Final[Mapping[tuple[str, str], Callable[[SandboxState, str, bytes], Any]]] = {
    ("GET", "stats"): _stats,
    ("POST", "faults"): _faults,
    ("POST", "script"): _script,
    ("POST", "reset"): _reset,
}


class PaymentsApiServer(Service):
    """The fake payments API (``CreatePaymentSession``, ``GetPaymentSession``) on a local HTTP port.

    ``with PaymentsApiServer() as api:`` starts it on a free port of 127.0.0.1; point boto3 at
    ``api.endpoint_url``. ``faults`` are its random faults to begin with (none by default). ``api.state``
    (a :class:`SandboxState`) holds sessions, counters and faults; the most used of its methods are also
    available on the server itself.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultSettings | None = None,
        *,
        verbose: bool = False,
    ) -> None:
        self.api = load_api_spec()
        self.state = SandboxState(self.api, faults)
        self._address = (host, port)
        self._verbose = verbose
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind the port and serve in a background thread; returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("the server is already running")
        httpd = _HttpServer(self._address, self.state, self.api, self._verbose)
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="payments-sandbox", daemon=True
        )
        self._httpd = httpd
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self.state.abandon_in_flight()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` for boto3's ``endpoint_url``."""
        host = self._address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def snapshot(self, *, include_sessions: bool = True) -> dict[str, Any]:
        """See :meth:`SandboxState.snapshot`."""
        return self.state.snapshot(include_sessions=include_sessions)

    def reset(self) -> None:
        """See :meth:`SandboxState.reset`."""
        self.state.reset()

    def set_faults(self, **changes: Any) -> FaultSettings:
        """See :meth:`SandboxState.set_faults`."""
        return self.state.set_faults(**changes)

    def fail_next(self, code: str, **options: Any) -> int:
        """See :meth:`SandboxState.fail_next` (``operation="GetPaymentSession"`` scripts that operation)."""
        return self.state.fail_next(code, **options)

    def delay_next(self, delay_ms: float, **options: Any) -> int:
        """See :meth:`SandboxState.delay_next`."""
        return self.state.delay_next(delay_ms, **options)

    def add_session(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """See :meth:`SandboxState.add_session`."""
        return self.state.add_session(request)
