"""``hubflow serve --workers N`` on Linux: each worker listens on a socket of its own.

uvicorn's supervisor binds one listening socket and every worker accepts from it.
When connections arrive together (a client's pool opening, a load balancer
reconnecting), the first worker to wake accepts nearly all of them: in the order
intake benchmark 28 to 30 of 32 keep-alive connections sat on one worker, which
then did nearly all the work on its one core's worth of GIL while the other idled.

Here each worker gets a listening socket of its own on the same address
(``SO_REUSEPORT``), and the kernel spreads new connections over them by a hash of
the client's address and port. The rest is uvicorn's supervisor as it is (health
checks, restarts, signals); only which socket a worker gets differs: a replacement
takes over the socket of the worker it replaces.

The kernel's hash spreads connections at random, not evenly: 32 connections came
out 21/11 or 10/22 as often as 16/16, and since each worker's share of the CPU is
about the same, a client's latency grows with its worker's number of connections
(means of 52 ms against 127 ms in one run). So the workers also even out what the
hash left uneven: each publishes its number of open connections in a shared array,
and a worker with more than its even share (rounded up) answers its next request
with ``Connection: close`` (HTTP/1.1 allows a server that), after which the client
reconnects, landing on a worker at random again, until no worker is over.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import socket
import sys
from collections.abc import Set as AbstractSet
from typing import Any

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process, logger

__all__ = ["EvenedHttpTools", "SocketPerWorker", "supported"]


def supported(config: Config) -> bool:
    """Linux spreads connections over a SO_REUSEPORT group (other systems do not, or
    differently); a port of 0 would give each worker a port of its own."""
    return (
        sys.platform == "linux"
        and hasattr(socket, "SO_REUSEPORT")
        and config.workers > 1
        and config.port != 0
        and config.uds is None
        and config.fd is None
    )


def _bind(config: Config) -> socket.socket:
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    sock.set_inheritable(True)
    return sock


class _Share:
    """The workers' numbers of open connections (shared memory) and this worker's slot."""

    def __init__(self, counts: Any, index: int) -> None:
        self.counts = counts
        self.index = index
        # This worker's connections told to close, until they have: no longer counted
        # (else every request until the first one is gone would close one more).
        self.closing: set[object] = set()

    def publish(self, connections: AbstractSet[object]) -> int:
        """Publish this worker's number of connections, not counting those closing."""
        mine = len(connections - self.closing)
        self.counts[self.index] = mine
        return mine

    def over(self, mine: int) -> bool:
        """More than an even share of all the workers' connections (rounded up)."""
        total: int = sum(self.counts)
        return mine > math.ceil(total / len(self.counts))


class EvenedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, evening out connections over the workers (see
    the module). With no share in its config (one worker) it is uvicorn's own."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if (share := _share(self.config)) is not None:
            share.publish(self.connections)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if (share := _share(self.config)) is not None:
            share.closing.discard(self)
            share.publish(self.connections)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        share = _share(self.config)
        if share is None or not self.cycle.keep_alive or self in share.closing:
            return
        if share.over(share.publish(self.connections)):
            self.cycle.keep_alive = False  # answered with Connection: close
            share.closing.add(self)
            share.publish(self.connections)


def _share(config: Config) -> _Share | None:
    share: _Share | None = getattr(config, "hubflow_share", None)
    return share


class SocketPerWorker(Multiprocess):
    """uvicorn's ``Multiprocess`` with worker ``i`` on socket ``i`` (see the module)."""

    def __init__(self, config: Config) -> None:
        # All bound before any worker listens: a group the kernel spreads over.
        super().__init__(config, [_bind(config) for _ in range(config.workers)])
        config.http = f"{__name__}:EvenedHttpTools"
        counts = multiprocessing.get_context("spawn").RawArray("i", config.workers)
        # Each worker's config says which slot is its own (passed to it at its start).
        self._configs = []
        for i in range(config.workers):
            own = copy.copy(config)
            own.hubflow_share = _Share(counts, i)  # type: ignore[attr-defined]
            self._configs.append(own)

    def init_processes(self) -> None:
        for config, sock in zip(self._configs, self.sockets, strict=True):
            process = Process(config, [sock])
            process.start()
            self.processes.append(process)

    def restart_all(self) -> None:
        """As uvicorn's: each replacement is ready before the worker it replaces stops."""
        for idx, old_process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new_process = Process(self._configs[idx], [self.sockets[idx]])
            new_process.start()
            if not new_process.wait_until_ready(
                self.config.timeout_worker_healthcheck, self.should_exit
            ):
                new_process.kill()
                new_process.join()
                if not self.should_exit.is_set():
                    logger.error(
                        f"New child process [{new_process.pid}] was not ready in time; "
                        f"keeping worker [{old_process.pid}] and aborting the restart."
                    )
                return
            old_process.terminate()
            old_process.join()
            self.processes[idx] = new_process

    def keep_subprocess_alive(self) -> None:
        """As uvicorn's: a worker that died or hangs is replaced, on its socket."""
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error(
                    f"Child process [{process.pid}] failed to start, stopping the parent process."
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Child process [{process.pid}] died")
            replacement = Process(self._configs[idx], [self.sockets[idx]])
            replacement.start()
            self.processes[idx] = replacement
