// Maps without tiles: Leaflet draws only what Hubflow knows (hubs, stops, vehicles,
// routes) on a plain background, so nothing is fetched from the internet.
"use strict";
const hfmap = (() => {
  const MODE_COLOURS = {
    van: "#0b5cad", car: "#5b2a86", bike: "#1d6b2e", cargo_bike: "#1d6b2e",
    drone: "#b3261e", robot: "#8a5a00", autonomous_van: "#00606b", walker: "#4a5360",
  };

  function create(elementId) {
    const map = L.map(elementId, {
      zoomControl: true, attributionControl: false, preferCanvas: true,
      keyboard: true, zoomSnap: 0.25,
    });
    map.setView([0, 0], 2);
    return map;
  }

  function colour(mode) { return MODE_COLOURS[mode] || "#1b1f24"; }

  function fit(map, points) {
    const ll = points.filter(Boolean).map((p) => [p.lat, p.lng]);
    if (ll.length === 1) map.setView(ll[0], 14);
    else if (ll.length > 1) map.fitBounds(L.latLngBounds(ll).pad(0.15), { maxZoom: 15 });
  }

  return { create, colour, fit, MODE_COLOURS };
})();
