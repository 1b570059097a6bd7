// Maps without tiles: Leaflet draws only what Hubflow knows (hubs, stops, vehicles,
// routes, customers) on a plain background with an outline of the served area, so
// nothing is fetched from the internet. SVG rendering: every mark is a DOM element
// with a class, which keeps the map testable.
"use strict";
const hfmap = (() => {
  const MODE_COLOURS = {
    van: "#0b5cad", car: "#5b2a86", bike: "#1d6b2e", cargo_bike: "#1d6b2e",
    drone: "#b3261e", robot: "#8a5a00", autonomous_van: "#00606b", walker: "#4a5360",
  };
  const RISK_COLOURS = { on_time: "#1d6b2e", at_risk: "#8a5a00", late: "#b3261e" };

  function create(elementId) {
    const map = L.map(elementId, { attributionControl: false, zoomSnap: 0.25, keyboard: true });
    map.setView([0, 0], 2);
    return map;
  }

  function colour(mode) { return MODE_COLOURS[mode] || "#1b1f24"; }

  function fit(map, points) {
    const ll = points.filter(Boolean).map((p) => [p.lat, p.lng]);
    if (ll.length === 1) map.setView(ll[0], 14);
    else if (ll.length > 1) map.fitBounds(L.latLngBounds(ll).pad(0.15), { maxZoom: 15 });
  }

  // Convex hull (monotone chain) of the points: the base "land" of the map.
  function hull(points) {
    const p = points.map((x) => [x.lng, x.lat]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    if (p.length < 3) return [];
    const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    const lower = [], upper = [];
    for (const q of p) { while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop(); lower.push(q); }
    for (const q of [...p].reverse()) { while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], q) <= 0) upper.pop(); upper.push(q); }
    return lower.slice(0, -1).concat(upper.slice(0, -1)).map(([lng, lat]) => [lat, lng]);
  }

  // The served area, drawn first as the map's base: the hull of every known point.
  function drawArea(layer, points) {
    const area = hull(points);
    if (area.length) L.polygon(area, { color: "#8795a8", weight: 1, fillColor: "#ffffff", fillOpacity: 0.7, className: "m-area", interactive: false }).addTo(layer);
  }

  // Draw the whole network into ``layer`` (cleared first).
  function drawNetwork(layer, data) {
    layer.clearLayers();
    const hubs = Object.fromEntries(data.hubs.map((h) => [h.id, h]));
    const everything = [...data.hubs.map((h) => ({ lat: h.lat, lng: h.lng })), ...data.orders.map((o) => o.location)];
    drawArea(layer, everything);
    for (const r of data.routes) {
      const hub = hubs[r.hub_id];
      if (!hub) continue;
      const line = [[hub.lat, hub.lng], ...r.stops.map((s) => [s.location.lat, s.location.lng])];
      L.polyline(line, { color: colour(r.mode), weight: 3, dashArray: r.status === "started" ? null : "6 6", className: `m-route r-${r.id}` })
        .bindTooltip(`${r.mode} route, ${r.status}, ${r.stops.length} stops`).addTo(layer);
    }
    for (const o of data.orders) {
      L.circleMarker([o.location.lat, o.location.lng], { radius: 6, color: "#1b1f24", weight: 1, fillColor: RISK_COLOURS[o.risk], fillOpacity: 1, className: `m-order o-${o.shipment_id}` })
        .bindTooltip(`${o.merchant}: ${o.status.replaceAll("_", " ")}${o.risk !== "on_time" ? ` (${o.risk.replace("_", " ")})` : ""}`).addTo(layer);
    }
    for (const v of data.vehicles) {
      L.circleMarker([v.location.lat, v.location.lng], { radius: 7, color: "#ffffff", weight: 2, fillColor: colour(v.mode), fillOpacity: 1, className: `m-vehicle m-mode-${v.mode}` })
        .bindTooltip(`${v.name} (${v.mode})`).addTo(layer);
    }
    for (const c of data.couriers) {
      if (!c.location || !c.on_shift) continue;
      L.circleMarker([c.location.lat, c.location.lng], { radius: 7, color: "#1b1f24", weight: 2, fillColor: colour(c.mode), fillOpacity: 1, className: `m-courier m-mode-${c.mode}` })
        .bindTooltip(`${c.name} (${c.mode})`).addTo(layer);
    }
    for (const h of data.hubs) {
      L.circleMarker([h.lat, h.lng], { radius: 10, color: "#1b1f24", weight: 3, fillColor: "#ffffff", fillOpacity: 1, className: `m-hub h-${h.id}` })
        .bindTooltip(h.name, { permanent: true, direction: "right", className: "map-label" }).addTo(layer);
    }
    return everything;
  }

  function legend(listEl, modes) {
    const items = [["Hub", "#ffffff"], ["On time", RISK_COLOURS.on_time], ["At risk", RISK_COLOURS.at_risk], ["Late", RISK_COLOURS.late],
      ...modes.map((m) => [m.replace("_", " "), colour(m)])];
    listEl.replaceChildren(...items.map(([name, fill]) => {
      const dot = hf.el("span", { class: "dot" });
      dot.style.background = fill;
      return hf.el("li", {}, dot, name);
    }));
  }

  return { create, colour, fit, drawArea, drawNetwork, legend, MODE_COLOURS, RISK_COLOURS };
})();
