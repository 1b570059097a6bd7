"""An in-process index of the active hubs and their promise settings.

A quote must not read and parse every hub of a 500-hub network. The index
holds them parsed, with a grid over their service areas, so "which hubs serve
this address" is a cell lookup plus a few distance computations; it also
caches each hub's opening intervals per local date.

One index per engine (database), reloaded when the network's revision token
(``network_revision``, changed by every hub or hub-settings change in the same
transaction) differs from the one it was built at: one primary-key read per
use, so every process sees a change as soon as it is committed.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from hubflow.core.geo import EARTH_RADIUS_KM, LatLng
from hubflow.network.model import Capability, Hub
from hubflow.network.store import hub_from_row, hubs_table, network_revision
from hubflow.promise.model import HubCalendar, HubPromise, OptionCode, week_minutes
from hubflow.promise.store import hub_promise_table

__all__ = ["HubEntry", "HubIndex", "hub_index"]

CELL_DEG = 0.25
MAX_CELLS_PER_HUB = 400
KM_PER_DEG = 2 * math.pi * EARTH_RADIUS_KM / 360.0


@dataclass(frozen=True, slots=True)
class HubEntry:
    id: str
    hub: Hub
    promise: HubPromise
    tz: ZoneInfo
    week: Mapping[str, list[tuple[int, int]]]
    lat_r: float
    lng_r: float
    cos_lat: float
    ships: bool  # delivery options may be sourced here
    pickup: bool  # customers may collect here

    def can(self, option: OptionCode) -> bool:
        """Whether the hub's kind, capabilities and settings allow ``option`` at all."""
        if not self.promise.offers(option):
            return False
        return self.pickup if option is OptionCode.PICKUP_IN_STORE else self.ships


def _cell(lat: float, lng: float) -> tuple[int, int]:
    return math.floor(lat / CELL_DEG), math.floor(lng / CELL_DEG)


class HubIndex:
    def __init__(self, entries: Iterable[HubEntry], token: str) -> None:
        self.token = token
        self.entries = {e.id: e for e in entries}
        self._grid: dict[tuple[int, int], list[HubEntry]] = {}
        self._wide: list[HubEntry] = []
        self._calendars: dict[tuple[str, date], HubCalendar] = {}
        self.floors = {e.id: e.promise.safety_stock for e in self.entries.values()}
        for e in self.entries.values():
            self._place(e)

    def _place(self, e: HubEntry) -> None:
        h = e.hub
        dlat = h.service_radius_km / KM_PER_DEG
        cos = max(math.cos(math.radians(h.location.lat)), 0.01)
        dlng = min(180.0, dlat / cos)
        lo = _cell(max(-90.0, h.location.lat - dlat), h.location.lng - dlng)
        hi = _cell(min(90.0, h.location.lat + dlat), h.location.lng + dlng)
        n = (hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1)
        if n > MAX_CELLS_PER_HUB or dlng >= 180.0:
            self._wide.append(e)
            return
        for i in range(lo[0], hi[0] + 1):
            for j in range(lo[1], hi[1] + 1):
                # Longitudes wrap: cells are keyed modulo the 360 degrees around.
                self._grid.setdefault((i, j % round(360 / CELL_DEG)), []).append(e)

    def serving(self, dest: LatLng) -> list[tuple[HubEntry, float]]:
        """Active hubs whose service radius covers ``dest``, nearest first."""
        i, j = _cell(dest.lat, dest.lng)
        near = self._grid.get((i, j % round(360 / CELL_DEG)), [])
        lat_r, lng_r = math.radians(dest.lat), math.radians(dest.lng)
        cos_lat = math.cos(lat_r)
        out = []
        for e in (*near, *self._wide):
            dp = lat_r - e.lat_r
            dl = lng_r - e.lng_r
            a = math.sin(dp / 2) ** 2 + cos_lat * e.cos_lat * math.sin(dl / 2) ** 2
            km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
            if km <= e.hub.service_radius_km:
                out.append((e, km))
        out.sort(key=lambda x: (x[1], x[0].id))
        return out

    def calendar(self, entry: HubEntry, today: date) -> HubCalendar:
        key = (entry.id, today)
        cal = self._calendars.get(key)
        if cal is None:
            if len(self._calendars) > 50_000:
                self._calendars.clear()
            cal = HubCalendar.build(entry.week, entry.tz, today)
            self._calendars[key] = cal
        return cal


def _entry(hub: Hub, settings: Mapping[str, Any] | None) -> HubEntry:
    lat_r = math.radians(hub.location.lat)
    return HubEntry(
        id=hub.id,
        hub=hub,
        promise=HubPromise.from_json(settings),
        tz=ZoneInfo(hub.timezone),
        week=week_minutes(hub.hours.week),
        lat_r=lat_r,
        lng_r=math.radians(hub.location.lng),
        cos_lat=math.cos(lat_r),
        ships=hub.ships,
        pickup=Capability.PICK_UP_IN_STORE in hub.capabilities,
    )


def load(conn: Connection) -> HubIndex:
    token = network_revision(conn)
    settings = {
        r.hub_id: r.settings
        for r in conn.execute(select(hub_promise_table.c.hub_id, hub_promise_table.c.settings))
    }
    hubs = [
        hub_from_row(r)
        for r in conn.execute(select(hubs_table).where(hubs_table.c.active.is_(True)))
    ]
    return HubIndex((_entry(h, settings.get(h.id)) for h in hubs), token)


_indexes: weakref.WeakKeyDictionary[Engine, HubIndex] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def hub_index(conn: Connection, token: str | None = None) -> HubIndex:
    """The index for this connection's database, reloaded if the network changed;
    ``token`` is the network's revision if the caller read it in a query of its own."""
    if token is None:
        token = network_revision(conn)
    with _lock:
        idx = _indexes.get(conn.engine)
    if idx is not None and idx.token == token:
        return idx
    idx = load(conn)
    if idx.token != token:  # changed between the two reads: do not cache a mix
        return idx
    with _lock:
        _indexes[conn.engine] = idx
    return idx
