"""Shoppers in the twin: a customer picks a basket from what can reach them, asks for a
quote, and orders on the option they prefer."""

from __future__ import annotations

from datetime import datetime

from hubflow.core.errors import HubflowError
from hubflow.core.geo import LatLng, haversine_km
from hubflow.orders import service as orders
from hubflow.promise import service as promise
from hubflow.promise.model import OptionCode, Reason, furthest
from hubflow.sim.picking import Picking
from hubflow.sim.recorder import OrderFact
from hubflow.sim.world import Customer, Product

__all__ = ["Shopping"]


class Shopping(Picking):
    """Customers quoting and ordering."""

    def _reachable(self, c: Customer) -> list[str]:
        if c.index not in self.reach:
            here = LatLng(c.lat, c.lng)
            self.reach[c.index] = [
                h.key
                for h in self.sc.hubs
                if not h.pickup_only and haversine_km(LatLng(h.lat, h.lng), here) <= h.radius_km
            ]
        return self.reach[c.index]

    def _basket(self, c: Customer) -> tuple[str, list[tuple[Product, int]]] | None:
        rng, w = self.rng, self.world
        merchants = list(self.sc.merchants)
        m = rng.choices(merchants, weights=[x.share for x in merchants])[0]
        near: set[str] = set().union(*(w.stocked.get(k, set()) for k in self._reachable(c)))
        products = [p for p in w.products[m.key] if p.id in near]
        if not products:
            return None
        n = rng.choices((1, 2, 3, 4), weights=self.sc.demand.lines)[0]
        chosen: list[Product] = []
        weights = [p.spec.popularity for p in products]
        for _ in range(4 * n):
            if len(chosen) == min(n, len(products)):
                break
            p = rng.choices(products, weights=weights)[0]
            if p not in chosen:
                chosen.append(p)
        most = [p.spec.max_per_order for p in chosen]
        qty = [
            rng.choices(range(1, k + 1), weights=[1 / q**2 for q in range(1, k + 1)])[0]
            for k in most
        ]
        return m.key, list(zip(chosen, qty, strict=True))

    def shop(self, ref: str) -> None:
        """One customer: a quote, maybe an order on one of its options."""
        c = self.rng.choice(self.customers)
        hour = self.hour()
        basket = self._basket(c)
        if basket is None:
            self.rec.unavailable["nothing_in_reach"] += 1
            self.rec.count("no_option", hour)
            return
        mkey, lines = basket
        mid = self.world.merchant_ids[mkey]
        pairs = [(p.id, q) for p, q in lines]
        address = {
            "line1": f"{100 + c.index} Main St",
            "city": c.area,
            "postcode": c.postcode,
            "country": self.sc.country,
        }
        dest = LatLng(c.lat, c.lng)
        self.rec.count("quotes", hour)
        quote = promise.create_quote(
            self.engine,
            mid,
            promise.QuoteRequest(pairs, dest, address, f"cus-{c.index}", c.member),
            self.now,
            self.pcfg,
        )
        options = {o["code"]: o for o in quote["options"]}
        if not options:
            # The option that got furthest says why (full slots more than a passed cutoff);
            # the first reason by name counted a full day's slots as "cutoff_passed".
            why = furthest(
                (Reason(u["reason"]) for u in quote.get("unavailable", [])), Reason.NOT_OFFERED
            )
            self.rec.unavailable[why.value] += 1
            self.rec.count("no_option", hour)
            return
        if self.rng.random() >= self.sc.demand.conversion:
            self.rec.count("quote_only", hour)
            return
        mix = self.sc.demand.option_mix
        codes = sorted(options)
        weights = [mix.get(k, 0.0) for k in codes]
        code = self.rng.choices(codes, weights=weights)[0] if sum(weights) > 0 else codes[0]
        chosen = options[code]
        pickup = chosen.get("pickup_locations") or []
        req = orders.OrderRequest(
            lines=pairs,
            destination=dest,
            address=address,
            customer={"name": f"Customer {c.index}", "id": f"cus-{c.index}"},
            external_ref=f"twin-{ref}",
            quote_id=quote["id"],
            option=OptionCode(code),
            pickup_hub_id=pickup[0]["hub_id"] if pickup else None,
        )
        try:
            placed = orders.place_order(
                self.engine,
                mid,
                mid,
                f"twin-{ref}",
                f"twin-{ref}",
                req,
                self.now,
                promise_config=self.pcfg,
            )
        except HubflowError as exc:
            self.rec.refused[exc.code] += 1
            self.rec.count("refused", hour)
            return
        body = placed.body
        self.rec.count("orders", hour)
        promise_json = body.get("promise") or {}
        window_to = (promise_json.get("window") or {}).get("to")
        fact = OrderFact(
            order_id=body["id"],
            merchant=mkey,
            kind=self.world.merchants[mid].kind,
            option=code,
            member=c.member,
            placed_at=self.now,
            promised_by=datetime.fromisoformat(window_to) if window_to else None,
            shipments=[s["id"] for s in body["shipments"]],
            value=sum(p.spec.value_cents * q for p, q in lines),
            fee=int((promise_json.get("fee") or {}).get("amount", 0)),
        )
        self.rec.orders[fact.order_id] = fact
        due = {s["hub_id"]: s["ready_at"] for s in promise_json.get("shipments", [])}
        for s in body["shipments"]:
            self.rec.shipment_order[s["id"]] = fact.order_id
            ready = due.get(s["hub_id"])
            self.to_pick(s["id"], s["hub_id"], datetime.fromisoformat(ready) if ready else None)
