// Replay: load a day's tracking events, then show each parcel's state at the slider's
// time (its last event by then), coloured by state, with counts.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const map = hfmap.create("replay-map");
  const layer = L.layerGroup().addTo(map);
  const STATE = { created: "ordered", ready: "packed", assigned: "planned", offered: "planned", picked_up: "on the road",
    arriving: "on the road", delivered: "delivered", failed: "failed", in_locker: "in a locker", redirected: "at a store",
    returned_to_hub: "back at hub", handed_to_carrier: "with a carrier", carrier_assigned: "planned" };
  const FILL = { ordered: "#4a5360", packed: "#5b2a86", planned: "#0b5cad", "on the road": "#8a5a00", delivered: "#1d6b2e",
    failed: "#b3261e", "in a locker": "#00606b", "at a store": "#00606b", "back at hub": "#b3261e", "with a carrier": "#5b2a86" };
  let data = null, start = null, timer = null;

  function draw() {
    if (!data) return;
    const minutes = Number($("slider").value);
    const t = new Date(start.getTime() + minutes * 60000);
    $("clock").textContent = t.toISOString().slice(11, 16) + " UTC";
    const latest = new Map();
    for (const e of data.events) { if (new Date(e.at) <= t) latest.set(e.shipment_id, e); }
    layer.clearLayers();
    hfmap.drawArea(layer, [...data.hubs.map((h) => ({ lat: h.lat, lng: h.lng })), ...data.events.map((e) => e.location)]);
    for (const h of data.hubs) {
      L.circleMarker([h.lat, h.lng], { radius: 10, color: "#1b1f24", weight: 3, fillColor: "#ffffff", fillOpacity: 1, className: "m-hub" })
        .bindTooltip(h.name, { permanent: true, direction: "right", className: "map-label" }).addTo(layer);
    }
    const counts = {};
    for (const e of latest.values()) {
      const state = STATE[e.kind] || e.kind;
      counts[state] = (counts[state] || 0) + 1;
      L.circleMarker([e.location.lat, e.location.lng], { radius: 5, color: "#1b1f24", weight: 1, fillColor: FILL[state] || "#1b1f24", fillOpacity: 1, className: "m-parcel" }).addTo(layer);
    }
    $("replay-counts").replaceChildren(...Object.entries(counts).sort().map(([s, n]) => {
      const dot = hf.el("span", { class: "dot" }); dot.style.background = FILL[s] || "#1b1f24";
      return hf.el("li", { "data-state": s }, dot, `${s}: ${n}`);
    }));
  }

  async function load() {
    start = new Date(`${$("day").value}T00:00:00Z`);
    data = await hf.call("GET", `/ops/replay.json?from=${encodeURIComponent(start.toISOString())}&hours=24`);
    const points = [...data.hubs.map((h) => ({ lat: h.lat, lng: h.lng })), ...data.events.map((e) => e.location)];
    if (points.length) hfmap.fit(map, points);
    hf.announce(`${data.events.length} events loaded`);
    document.body.dataset.loaded = "true";
    draw();
  }

  $("replay-form").addEventListener("submit", (e) => { e.preventDefault(); load().catch((err) => hf.announce(err.message, true)); });
  $("slider").addEventListener("input", draw);
  $("play").addEventListener("click", () => {
    if (timer) { clearInterval(timer); timer = null; $("play").textContent = "Play"; return; }
    $("play").textContent = "Pause";
    timer = setInterval(() => {
      const s = $("slider");
      s.value = String((Number(s.value) + 10) % 1440);
      draw();
    }, 200);
  });
  load().catch((err) => hf.announce(err.message, true));
})();
