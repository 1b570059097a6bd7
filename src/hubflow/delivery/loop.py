"""The dispatch loop: every epoch, every region, in one process at a time.

Any number of API processes may run the loop; a lease row per region (taken by a
conditional UPDATE, or by inserting the row) lets exactly one of them plan a region's
epoch, and records when it last ran so a restart does not plan twice in one epoch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update

from hubflow.core.clock import Clock
from hubflow.core.db import UnitOfWork
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.delivery.dispatch import DispatchConfig, RunSummary, regions, run_epoch
from hubflow.delivery.offers import expire_offers
from hubflow.delivery.store import dispatch_leases_table
from hubflow.lockers.service import expire_due as expire_lockers
from hubflow.lockers.store_pickup import expire_no_shows
from hubflow.membership.service import renew_due
from hubflow.points.service import expire_due as expire_points

__all__ = ["Dispatcher", "take_lease"]

log = logging.getLogger("hubflow.dispatch")


def take_lease(engine: Engine, region: str, holder: str, now: datetime, epoch_s: int,
               hold_s: float) -> bool:  # fmt: skip
    """Take the region's lease if its epoch is due and nobody holds it."""
    t = dispatch_leases_table.c
    due = now - timedelta(seconds=epoch_s)
    until = now + timedelta(seconds=hold_s)
    with UnitOfWork(engine) as uow:
        conn = uow.conn
        inserted = conn.execute(
            insert_on_conflict(conn, dispatch_leases_table)
            .values(region=region, holder=holder, until=until, last_run_at=None)
            .on_conflict_do_nothing(index_elements=["region"])
            .returning(t.region)
        ).first()
        if inserted is not None:
            return True
        res = conn.execute(
            update(dispatch_leases_table)
            .where(t.region == region, t.until <= now)
            .where(or_(t.last_run_at.is_(None), t.last_run_at <= due))
            .values(holder=holder, until=until)
        )
        return res.rowcount == 1


def _release(engine: Engine, region: str, holder: str, now: datetime) -> None:
    t = dispatch_leases_table.c
    with UnitOfWork(engine) as uow:
        uow.conn.execute(
            update(dispatch_leases_table)
            .where(t.region == region, t.holder == holder)
            .values(until=now, last_run_at=now)
        )


class Dispatcher:
    """Runs due epochs; ``run_once`` is one pass over the regions (for tests and ticks)."""

    def __init__(self, engine: Engine, clock: Clock, cfg: DispatchConfig,
                 on_run: Callable[[RunSummary], None] = lambda _: None) -> None:  # fmt: skip
        self.engine, self.clock, self.cfg, self.on_run = engine, clock, cfg, on_run
        self.holder = new_id("dpl")

    def run_once(self) -> list[RunSummary]:
        now = self.clock.now()
        expire_offers(self.engine, now, timedelta(seconds=self.cfg.offer_ttl_s))
        with UnitOfWork(self.engine) as uow:  # parcels left in lockers or stores too long
            expire_lockers(uow, now)
            expire_no_shows(uow, now)
        with UnitOfWork(self.engine) as uow:  # memberships renew or lapse, points expire
            renew_due(uow, now)
            expire_points(uow, now)
        done = []
        for region in regions(self.engine):
            hold = self.cfg.time_limit_s * 3 + 60
            if not take_lease(self.engine, region, self.holder, now, self.cfg.epoch_s, hold):
                continue
            try:
                summary = run_epoch(self.engine, region, now, self.cfg)
            finally:
                _release(self.engine, region, self.holder, self.clock.now())
            self.on_run(summary)
            done.append(summary)
        return done

    def run_forever(self, stop: threading.Event, tick_s: float = 15.0) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep dispatching after a transient database error
                log.warning("dispatch pass failed: %s", exc)
            stop.wait(tick_s)
