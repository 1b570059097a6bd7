// The dispatch board: routes per vehicle or courier, with their stops; a planned stop
// can move to another route of the same hub (POST /v1/routes/{id}/stops/{id}/move).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MOVABLE = new Set(["planned", "accepted"]);

  function who(r, data) {
    const v = data.vehicles.find((x) => x.id === r.vehicle_id);
    const c = data.couriers.find((x) => x.id === r.courier_id);
    return [v && v.name, c && c.name].filter(Boolean).join(" · ") || "unassigned";
  }

  function render(data) {
    const hubs = Object.fromEntries(data.hubs.map((h) => [h.id, h]));
    if (!data.routes.length) { $("board").replaceChildren(hf.el("p", { class: "muted", text: "No routes planned. Plan now to dispatch the waiting parcels." })); return; }
    $("board").replaceChildren(...data.routes.map((r) => {
      const others = data.routes.filter((x) => x.id !== r.id && x.hub_id === r.hub_id && MOVABLE.has(x.status));
      const items = r.stops.map((s) => {
        const li = hf.el("li", { "data-stop": s.id }, hf.el("strong", { text: `Stop ${s.seq}` }), ` · ${s.status} · ETA ${hf.time(s.eta)} · parcel ${s.shipment_id}`);
        if (MOVABLE.has(r.status) && s.status === "planned" && others.length) {
          const id = `move-${s.id}`;
          const sel = hf.el("select", { id }, ...others.map((o) => hf.el("option", { value: o.id, text: `${o.mode} route: ${who(o, data)} (${o.stops.length} stops)` })));
          const form = hf.el("form", { class: "row move" },
            hf.el("div", {}, hf.el("label", { for: id, text: "Move to" }), sel),
            hf.el("button", { type: "submit", text: "Move stop" }));
          form.addEventListener("submit", async (e) => {
            e.preventDefault();
            try {
              const out = await hf.call("POST", `/v1/routes/${r.id}/stops/${s.id}/move`, { to_route_id: sel.value });
              hf.announce(`Stop moved; new ETA ${hf.time(out.eta)}`);
            } catch (err) { hf.announce(`Not moved: ${err.message}`, true); }
            await refresh();
          });
          li.append(form);
        }
        return li;
      });
      const card = hf.el("section", { class: "card", "data-route": r.id, "aria-label": `Route ${r.id}` },
        hf.el("h2", { text: `${r.mode.replace("_", " ")} · ${who(r, data)}` }),
        hf.el("p", { class: "muted", text: `${hubs[r.hub_id] ? hubs[r.hub_id].name : r.hub_id} · ${r.status} · ${hf.time(r.planned_start)}–${hf.time(r.planned_end)} · ${(r.distance_m / 1000).toFixed(1)} km` }));
      const drivers = data.couriers.filter((c) => c.kind === "employee" && c.hub_id === r.hub_id && c.id !== r.courier_id);
      if (MOVABLE.has(r.status) && r.vehicle_id && drivers.length) {
        const id = `reassign-${r.id}`;
        const sel = hf.el("select", { id }, ...drivers.map((c) => hf.el("option", { value: c.id, text: c.name })));
        const form = hf.el("form", { class: "row reassign" },
          hf.el("div", {}, hf.el("label", { for: id, text: "Give the route to" }), sel),
          hf.el("button", { type: "submit", text: "Reassign" }));
        form.addEventListener("submit", async (e) => {
          e.preventDefault();
          try {
            await hf.call("POST", `/v1/routes/${r.id}/reassign`, { courier_id: sel.value });
            hf.announce("Route reassigned");
          } catch (err) { hf.announce(`Not reassigned: ${err.message}`, true); }
          await refresh();
        });
        card.append(form);
      }
      card.append(hf.el("ol", { class: "stops" }, ...items));
      return card;
    }));
  }

  async function refresh() {
    const data = await hf.call("GET", "/ops/live.json");
    render(data);
    document.body.dataset.loaded = "true";
  }

  $("plan").addEventListener("click", async () => {
    try {
      const out = await hf.call("POST", `/v1/dispatch/${encodeURIComponent($("region").value)}/runs`);
      $("plan-result").textContent = `Planned ${out.routes} route(s) for ${out.planned ?? out.parcels ?? "the waiting"} parcel(s).`;
    } catch (err) { $("plan-result").textContent = `Planning failed: ${err.message}`; }
    await refresh();
  });
  hf.poll(refresh, 10000);
})();
