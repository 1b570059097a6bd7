// Replay: load a day (the served network's, or the twin's simulated day), then show at
// the slider's time each parcel's state (its last event by then) and each route's vehicle
// where its track puts it, with counts.
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
  let data = null, start = 0, clock = null, timer = null;

  // Where a route's vehicle is at ``t`` (ms), between its track's waypoints; null when
  // it is not out (before it left, or after it came back).
  function position(route, t) {
    const w = route.points;
    if (t < w[0].t) return null;
    const last = w[w.length - 1];
    if (t >= last.t) return route.completed_at ? (t === last.t ? last : null) : last;
    let i = 1;
    while (w[i].t < t) i++;
    const a = w[i - 1], b = w[i], f = b.t > a.t ? (t - a.t) / (b.t - a.t) : 1;
    return { lat: a.lat + (b.lat - a.lat) * f, lng: a.lng + (b.lng - a.lng) * f };
  }

  function legendItems(counts, fill, suffix) {
    return Object.entries(counts).sort().map(([s, n]) => {
      const dot = hf.el("span", { class: "dot" }); dot.style.background = fill(s);
      return hf.el("li", { "data-state": s }, dot, `${s.replaceAll("_", " ")}: ${n}${suffix || ""}`);
    });
  }

  function draw() {
    if (!data) return;
    const t = start + Number($("slider").value) * 60000;
    $("clock").textContent = `${clock.format(new Date(t))} ${data.timezone}`;
    const latest = new Map();
    for (const e of data.events) { if (e.t > t) break; latest.set(e.shipment_id, e); }
    layer.clearLayers();
    hfmap.drawArea(layer, data.area);
    const hubs = Object.fromEntries(data.hubs.map((h) => [h.id, h]));
    const onRoad = {};
    for (const r of data.routes) {
      const at = position(r, t);
      if (!at) continue;
      onRoad[r.mode] = (onRoad[r.mode] || 0) + 1;
      const hub = hubs[r.hub_id];
      const line = [...(hub ? [[hub.lat, hub.lng]] : []), ...r.stops.map((s) => [s.location.lat, s.location.lng])];
      L.polyline(line, { color: hfmap.colour(r.mode), weight: 3, dashArray: "6 6", className: `m-route r-${r.id}` }).addTo(layer);
      L.circleMarker([at.lat, at.lng], { radius: 7, color: "#ffffff", weight: 2, fillColor: hfmap.colour(r.mode), fillOpacity: 1, className: `m-vehicle m-mode-${r.mode} v-${r.id}` })
        .bindTooltip(`${r.label} (${r.mode.replaceAll("_", " ")})`).addTo(layer);
    }
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
    $("replay-counts").replaceChildren(...legendItems(counts, (s) => FILL[s] || "#1b1f24"));
    $("replay-vehicles").replaceChildren(...legendItems(onRoad, hfmap.colour, " on the road"));
  }

  function showDayField() { $("day-field").hidden = $("source").value === "twin"; }

  async function load() {
    const source = $("source").value;
    if (source === "twin") {
      data = await hf.call("GET", "/ops/replay.json?source=twin");
    } else {
      const from = new Date(`${$("day").value}T00:00:00Z`);
      data = await hf.call("GET", `/ops/replay.json?from=${encodeURIComponent(from.toISOString())}&hours=24`);
    }
    start = Date.parse(data.from);
    const minutes = Math.max(1, Math.round((Date.parse(data.to) - start) / 60000));
    clock = new Intl.DateTimeFormat("en-GB", { timeZone: data.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    for (const e of data.events) e.t = Date.parse(e.at);
    for (const r of data.routes) r.points = r.track.map(([at, lat, lng]) => ({ t: Date.parse(at), lat, lng }));
    data.area = [...data.hubs.map((h) => ({ lat: h.lat, lng: h.lng })), ...data.events.map((e) => e.location),
      ...data.routes.flatMap((r) => r.stops.map((s) => s.location))];
    const slider = $("slider");
    slider.max = String(minutes - 1);
    if (source === "twin") {
      // Open on the first route under way (or the first event): the simulated day's start.
      const first = [...data.routes.map((r) => r.points[0].t), ...data.events.map((e) => e.t)].reduce((a, b) => Math.min(a, b), Infinity);
      if (Number.isFinite(first)) slider.value = String(Math.floor((first - start) / 60000));
    }
    $("replay-label").textContent = data.source === "twin" ? `The twin's day (${data.label}) at` : "At";
    if (data.area.length) hfmap.fit(map, data.area);
    // A day with more events than a replay holds comes as every k-th parcel, whole.
    const sample = data.sample > 1 ? `one parcel in ${data.sample} shown (the day has more events than a replay holds); the counts are of those` : "";
    $("replay-sample").textContent = sample;
    $("replay-sample").hidden = !sample;
    hf.announce(`${data.events.length} events and ${data.routes.length} routes loaded` + (sample ? `: ${sample}` : "") +
      (data.truncated ? " (the first part of the sample only)" : ""));
    document.body.dataset.loaded = data.source;
    draw();
  }

  $("source").addEventListener("change", showDayField);
  $("replay-form").addEventListener("submit", (e) => { e.preventDefault(); load().catch((err) => hf.announce(err.message, true)); });
  $("slider").addEventListener("input", draw);
  $("play").addEventListener("click", () => {
    if (timer) { clearInterval(timer); timer = null; $("play").textContent = "Play"; return; }
    $("play").textContent = "Pause";
    timer = setInterval(() => {
      const s = $("slider");
      s.value = String((Number(s.value) + 10) % (Number(s.max) + 1));
      draw();
    }, 200);
  });
  showDayField();
  load().catch((err) => hf.announce(err.message, true));
})();
