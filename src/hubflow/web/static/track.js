// The customer's tracking page: polls the public tracking API for the status, the
// timeline, the courier's position and ETA, and the PIN or locker code.
"use strict";
(() => {
  const root = document.getElementById("tracking");
  const token = root.dataset.token;
  const dest = { lat: Number(root.dataset.destLat), lng: Number(root.dataset.destLng) };
  let map = null, courierMarker = null, fitted = false;
  const WORDS = {
    pending: "Being prepared", ready: "Packed and waiting", offered: "Finding a courier",
    assigned: "Courier assigned", carrier_pending: "Going with a carrier",
    handed_to_carrier: "With the carrier", out_for_delivery: "Out for delivery",
    delivered: "Delivered", failed: "Delivery attempt failed",
    redirected: "Waiting for you at a store", in_locker: "In a locker for you",
    awaiting_pickup: "Ready to collect", returned_to_hub: "Returned to the hub",
    cancelled: "Cancelled",
  };

  function showCode(label, code) {
    const box = document.getElementById("code-box");
    box.classList.toggle("hidden", !code);
    document.getElementById("code-label").textContent = label;
    document.getElementById("code").textContent = code || "";
  }

  function drawCourier(c) {
    const box = document.getElementById("courier-box");
    box.classList.toggle("hidden", !c);
    if (!c) return;
    document.getElementById("courier-text").textContent =
      `${c.name} is on the way (${c.mode.replace("_", " ")}), last seen at ${hf.time(c.at)}.`;
    if (!map) {
      map = hfmap.create("track-map");
      L.circleMarker([dest.lat, dest.lng], { radius: 9, color: "#1b1f24", fillColor: "#ffffff", fillOpacity: 1 })
        .addTo(map).bindTooltip("Your address");
    }
    const pos = [c.location.lat, c.location.lng];
    if (!courierMarker) {
      courierMarker = L.circleMarker(pos, { radius: 8, color: "#1b1f24", fillColor: hfmap.colour(c.mode), fillOpacity: 1 })
        .addTo(map).bindTooltip("Courier");
    } else courierMarker.setLatLng(pos);
    if (!fitted) { hfmap.fit(map, [dest, c.location]); fitted = true; }
  }

  async function refresh() {
    const t = await hf.call("GET", `/v1/tracking/${encodeURIComponent(token)}`);
    document.getElementById("status").textContent = WORDS[t.status] || t.status;
    document.getElementById("status").dataset.status = t.status;
    const eta = document.getElementById("eta");
    eta.textContent = t.eta ? `Expected at about ${hf.time(t.eta)}` +
      (t.stops_before != null ? ` · ${t.stops_before} stop(s) before yours` : "") : "";
    const locker = [...t.events].reverse().find((e) => e.kind === "in_locker");
    if (t.status === "in_locker" && locker) {
      showCode(`Collect it from ${locker.locker}, compartment ${locker.compartment}, by ${hf.time(locker.collect_by)} with this code:`, locker.code);
    } else if (t.pin) {
      showCode("Tell the courier this PIN at the door:", t.pin);
    } else showCode("", null);
    drawCourier(t.courier);
    const list = document.getElementById("timeline");
    list.replaceChildren(...[...t.events].reverse().map((e) =>
      hf.el("li", {}, hf.el("strong", { text: e.label }), hf.el("time", { datetime: e.at, text: new Date(e.at).toLocaleString() }))));
  }

  hf.poll(refresh, 5000);
})();
