"""``hubflow serve --workers N``: a listening socket per worker (SO_REUSEPORT)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.config import Config

from hubflow.api import workers

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT spreads on Linux")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _FakeProcess:
    """Records the sockets a worker is given, starts nothing."""

    made: list[_FakeProcess] = []

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.alive = True
        self.pid = len(self.made)
        self.exitcode: int | None = None
        self.made.append(self)

    def start(self) -> None: ...

    def is_alive(self, timeout: float = 5) -> bool:
        return self.alive

    def kill(self) -> None:
        self.alive = False

    def join(self) -> None: ...

    def terminate(self) -> None:
        self.alive = False

    def wait_until_ready(self, timeout: float, should_exit: Any = None) -> bool:
        return True


def test_each_worker_and_its_replacements_listen_on_a_socket_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "Process", _FakeProcess)
    _FakeProcess.made = []
    config = Config("hubflow.api.app:app_from_env", host="127.0.0.1", port=_free_port(), workers=3)
    assert workers.supported(config)
    sup = workers.SocketPerWorker(config)
    try:
        ports = {s.getsockname()[1] for s in sup.sockets}
        assert ports == {config.port} and len(sup.sockets) == 3
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in sup.sockets)
        procs: list[Any] = sup.processes  # the fakes
        sup.init_processes()
        assert [p.sockets for p in procs] == [[s] for s in sup.sockets]
        # Each worker's config has its own slot in one shared array of connection counts.
        shares = [p.config.hubflow_share for p in procs]
        assert [s.index for s in shares] == [0, 1, 2]
        assert len({id(s.counts) for s in shares}) == 1
        assert all(p.config.http == "hubflow.api.workers:EvenedHttpTools" for p in procs)
        procs[1].alive = False  # a worker dies: its replacement takes its socket
        sup.keep_subprocess_alive()
        assert procs[1] is _FakeProcess.made[3]
        assert procs[1].sockets == [sup.sockets[1]]
        sup.restart_all()
        assert [p.sockets for p in procs] == [[s] for s in sup.sockets]
        assert len(_FakeProcess.made) == 7
    finally:
        for s in sup.sockets:
            s.close()


def test_a_worker_over_its_even_share_of_connections_is_over() -> None:
    counts = [9, 7]
    assert workers._Share(counts, 0).over(9)
    assert not workers._Share(counts, 1).over(7)
    counts[:] = [8, 7]  # 15 connections: up to 8 each
    assert not workers._Share(counts, 0).over(8)


def test_connections_told_to_close_no_longer_count() -> None:
    # Until a closing connection is gone, the next requests must not close more.
    counts = [0, 15]
    share = workers._Share(counts, 0)
    connections: set[object] = {object() for _ in range(17)}
    assert share.over(share.publish(connections))
    share.closing.add(next(iter(connections)))
    assert share.publish(connections) == 16 and counts == [16, 15]
    assert not share.over(16)


def test_not_for_one_worker_nor_a_port_picked_by_the_system() -> None:
    assert not workers.supported(Config("x:y", port=8000, workers=1))
    assert not workers.supported(Config("x:y", port=0, workers=2))


def test_hubflow_serve_with_two_workers_answers_and_stops(tmp_path: Path) -> None:
    port = _free_port()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        "HUBFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "HUBFLOW_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "hubflow.cli", "serve", "--workers", "2", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "hubflow serve did not become ready"
            time.sleep(0.2)
        # Keep-alive connections opened together: all answered, and a worker holding
        # more than half of them closes some until the two hold four each.
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(8)]
        try:
            closes = []
            for _ in range(30):
                answers = [c.get("/healthz") for c in clients]
                assert all(r.status_code == 200 for r in answers)
                closes.append(sum(r.headers.get("connection") == "close" for r in answers))
            assert closes[-5:] == [0] * 5, closes
        finally:
            for c in clients:
                c.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
