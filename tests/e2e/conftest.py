"""End-to-end fixtures: the real app under uvicorn on a free port, and a webhook receiver.

``live`` serves the app over real HTTP from a background thread, on the same
engine and ManualClock as the ``api`` fixture (which is handy for setting data
up in-process). ``receiver`` is a ThreadingHTTPServer that records every request
and answers with a status chosen per request by a test-supplied policy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from hubflow.api.app import create_app
from hubflow.core.settings import Settings
from tests.conftest import Api
from tests.serving import serve


@dataclass
class LiveServer:
    url: str
    api: Api

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kw)  # type: ignore[arg-type]


@pytest.fixture
def live(api: Api) -> Iterator[LiveServer]:
    app = create_app(Settings(), engine=api.engine, clock=api.clock, run_relay=False)
    with serve(app) as url:
        yield LiveServer(url, api)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float  # the receiver's clock when the request arrived (epoch seconds)


@dataclass
class Receiver:
    """Records webhook requests; ``respond(request_so_far)`` picks each status code."""

    url: str
    requests: list[Received] = field(default_factory=list)
    respond: Callable[[Receiver, dict[str, str], bytes], int] = lambda *_: 200
    clock: Callable[[], float] = time.time  # what "now" is for signature checks
    lock: threading.RLock = field(default_factory=threading.RLock)
    got_success: threading.Event = field(default_factory=threading.Event)

    def attempts_for(self, event_id: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.headers.get("hubflow-event-id") == event_id)

    def successes(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.requests)


def fail_first(n: int) -> Callable[[Receiver, dict[str, str], bytes], int]:
    """500 for the first ``n`` attempts at each event, then 200."""

    def respond(rec: Receiver, headers: dict[str, str], body: bytes) -> int:
        seen = rec.attempts_for(headers.get("hubflow-event-id", ""))
        return 500 if seen < n else 200

    return respond


def always(status: int) -> Callable[[Receiver, dict[str, str], bytes], int]:
    return lambda *_: status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            with rec.lock:  # decide and record atomically
                status = rec.respond(rec, headers, body)
                rec.requests.append(Received(self.path, headers, body, status, rec.clock()))
            if 200 <= status < 300:
                rec.got_success.set()
            payload = b'{"ok": true}' if status < 300 else b'{"error": "try later"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/hubflow"
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
