// The courier app: shift, offers, the route and its next stop, deliver with a PIN,
// photo or signature, or fail with a reason. Calls the courier API with the session.
"use strict";
(() => {
  const root = document.getElementById("courier");
  const cid = root.dataset.courierId;
  const $ = (id) => document.getElementById(id);
  let route = null, stop = null, inked = false;

  let here = null, sentAt = 0, onShift = false;
  async function sendPosition() {
    if (!here || !onShift) return;  // off shift, nobody needs to know where we are
    try {
      await hf.call("POST", `/v1/couriers/${cid}/location`, here);
      sentAt = Date.now();
    } catch (e) { hf.announce(`Position not sent: ${e.message}`, true); }
  }

  async function act(fn, done) {
    try { await fn(); if (done) hf.announce(done); }
    catch (e) { hf.announce(e.message, true); }
    await refresh();
    await sendPosition();
  }

  function shift(on) {
    onShift = on;
    $("shift-state").textContent = on ? "You are on shift." : "You are off shift.";
    $("shift-start").hidden = on;
    $("shift-end").hidden = !on;
  }

  function renderOffers(offers) {
    $("offers-box").classList.toggle("hidden", offers.length === 0);
    $("offers").replaceChildren(...offers.map((o) => hf.el("li", {},
      hf.el("p", { text: `${o.route.stops.length} stop(s), ${(o.distance_m / 1000).toFixed(1)} km, pay ${(o.pay / 100).toFixed(2)}, answer by ${hf.time(o.expires_at)}` }),
      hf.el("button", { type: "button", class: "primary", onclick: () => act(() => hf.call("POST", `/v1/offers/${o.id}/accept`), "Offer accepted") }, "Accept"),
      " ",
      hf.el("button", { type: "button", onclick: () => act(() => hf.call("POST", `/v1/offers/${o.id}/decline`), "Offer declined") }, "Decline"))));
  }

  function renderRoute(routes) {
    route = routes.find((r) => r.status === "started") || routes[0] || null;
    const stops = route ? route.stops : [];
    stop = stops.find((s) => s.status === "arrived") || stops.find((s) => s.status === "planned") || null;
    const done = stops.filter((s) => s.status === "delivered" || s.status === "failed").length;
    $("route-summary").textContent = route
      ? `${route.mode.replace("_", " ")} from ${route.hub.name}: ${done} of ${stops.length} stops done, ${(route.distance_m / 1000).toFixed(1)} km.`
      : "No route yet.";
    $("pickup").classList.toggle("hidden", !route || route.status === "started");
    $("complete").classList.toggle("hidden", !route || route.status !== "started" || stops.some((s) => s.status === "arrived"));
    $("stops").replaceChildren(...stops.map((s) => hf.el("li", { class: s === stop ? "next" : "" },
      hf.el("strong", { text: `Stop ${s.seq}` }), ` · ${s.status.replace("_", " ")} · ETA ${hf.time(s.eta)}`)));
    const showNext = Boolean(route && route.status === "started" && stop);
    $("next-box").classList.toggle("hidden", !showNext);
    if (!showNext) return;
    $("next-text").textContent = `Stop ${stop.seq}, expected at ${hf.time(stop.eta)}.`;
    const { lat, lng } = stop.location;
    $("navigate").href = `geo:${lat},${lng}?q=${lat},${lng}`;
    $("navigate-web").href = stop.navigate;
    const arrived = stop.status === "arrived";
    // Show only the proofs this parcel needs (all of them if the app was reloaded and
    // does not know: the API checks anyway).
    const policy = JSON.parse(sessionStorage.getItem(`proof:${stop.id}`) || "null");
    for (const box of document.querySelectorAll("[data-proof]")) {
      box.hidden = Boolean(policy) && !policy[box.dataset.proof];
    }
    $("arrive").classList.toggle("hidden", arrived);
    $("deliver-form").classList.toggle("hidden", !arrived);
    $("fail-form").classList.toggle("hidden", !arrived);
  }

  async function refresh() {
    const [me, routes, offers] = await Promise.all([
      hf.call("GET", "/courier/me.json"),
      hf.call("GET", `/v1/couriers/${cid}/routes`),
      hf.call("GET", `/v1/couriers/${cid}/offers`),
    ]);
    shift(me.on_shift);
    renderOffers(offers.data);
    renderRoute(routes.data);
  }

  function readFile(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result).split(",", 2)[1]);
      r.onerror = () => reject(r.error);
      r.readAsDataURL(file);
    });
  }

  // Signature pad: pointer events cover mouse, pen and finger.
  const pad = $("signature");
  const ink = pad.getContext("2d");
  ink.lineWidth = 4; ink.lineCap = "round"; ink.strokeStyle = "#1b1f24";
  let drawing = false;
  const at = (e) => { const r = pad.getBoundingClientRect(); return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height]; };
  pad.addEventListener("pointerdown", (e) => { drawing = true; ink.beginPath(); ink.moveTo(...at(e)); pad.setPointerCapture(e.pointerId); });
  pad.addEventListener("pointermove", (e) => { if (drawing) { ink.lineTo(...at(e)); ink.stroke(); inked = true; } });
  pad.addEventListener("pointerup", () => { drawing = false; });
  $("clear-signature").addEventListener("click", () => { ink.clearRect(0, 0, pad.width, pad.height); inked = false; });

  $("shift-start").addEventListener("click", () => act(() => hf.call("POST", `/v1/couriers/${cid}/shift/start`), "Shift started"));
  $("shift-end").addEventListener("click", () => act(() => hf.call("POST", `/v1/couriers/${cid}/shift/end`), "Shift ended"));
  $("pickup").addEventListener("click", () => act(() => hf.call("POST", `/v1/routes/${route.id}/pickup`), "Parcels loaded"));
  $("complete").addEventListener("click", () => act(() => hf.call("POST", `/v1/routes/${route.id}/complete`), "Route finished"));
  $("arrive").addEventListener("click", () => act(async () => {
    const out = await hf.call("POST", `/v1/routes/${route.id}/stops/${stop.id}/arrive`);
    const p = out.proof, need = [];
    sessionStorage.setItem(`proof:${stop.id}`, JSON.stringify(p));
    if (p.pin) need.push("the customer's PIN");
    if (p.photo) need.push("a photo");
    if (p.signature) need.push("a signature");
    if (p.min_age) need.push(`an ID check (${p.min_age}+)`);
    $("proof-needed").textContent = need.length ? `Needed: ${need.join(", ")}.` : "No proof needed beyond handing it over.";
  }, "Arrived"));
  $("deliver-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act(async () => {
      const body = { age_verified: $("age-verified").checked };
      const pin = $("pin").value.trim();
      if (pin) body.pin = pin;
      const by = $("received-by").value.trim();
      if (by) body.received_by = by;
      const photo = $("photo").files[0];
      if (photo) { body.photo_base64 = await readFile(photo); body.photo_content_type = photo.type; }
      if (inked) { body.signature_base64 = pad.toDataURL("image/png").split(",", 2)[1]; body.signature_content_type = "image/png"; }
      await hf.call("POST", `/v1/routes/${route.id}/stops/${stop.id}/deliver`, body);
      e.target.reset(); ink.clearRect(0, 0, pad.width, pad.height); inked = false;
    }, "Delivered");
  });
  $("fail-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const note = $("fail-note").value.trim();
    act(() => hf.call("POST", `/v1/routes/${route.id}/stops/${stop.id}/fail`,
      note ? { reason: $("fail-reason").value, note } : { reason: $("fail-reason").value }), "Marked as not delivered");
  });

  // Tell dispatch where we are while on shift (customers see it, rounded, on tracking).
  if ("geolocation" in navigator) {
    navigator.geolocation.watchPosition((pos) => {
      here = { lat: pos.coords.latitude, lng: pos.coords.longitude };
      if (Date.now() - sentAt >= 15000) sendPosition();
    }, () => {}, { enableHighAccuracy: true, maximumAge: 10000 });
  }
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/courier/sw.js", { scope: "/courier" }).catch(() => {});
  hf.poll(refresh, 10000);
})();
