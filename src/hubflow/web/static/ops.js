// The operator's dashboard: polls /ops/live.json and redraws the map, KPI tiles, the
// chart and the order queues.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const map = hfmap.create("ops-map");
  const layer = L.layerGroup().addTo(map);
  let fitted = false, last = null;

  function kpis(k) {
    for (const [key, value] of Object.entries(k)) {
      const el = $(`kpi-${key}`);
      if (!el) continue;
      el.textContent = key === "on_time_rate" ? (value == null ? "–" : `${Math.round(value * 100)}%`) : value;
    }
    $("by-state").replaceChildren(...Object.entries(k.by_state).map(([s, n]) => hf.el("li", { text: `${s.replaceAll("_", " ")}: ${n}` })));
  }

  function chart(series) {
    const svg = $("chart");
    const w = svg.clientWidth || 300, h = 140, pad = 18;
    const a = series.orders_per_hour, b = series.delivered_per_hour;
    const max = Math.max(1, ...a, ...b), n = a.length, bw = (w - pad) / n / 2.5;
    const ns = "http://www.w3.org/2000/svg";
    const parts = [];
    const rect = (x, y, width, height, fill) => { const r = document.createElementNS(ns, "rect"); r.setAttribute("x", x); r.setAttribute("y", y); r.setAttribute("width", width); r.setAttribute("height", height); r.setAttribute("fill", fill); return r; };
    for (let i = 0; i < n; i++) {
      const x = pad + i * (w - pad) / n;
      const ha = (h - pad) * a[i] / max, hb = (h - pad) * b[i] / max;
      parts.push(rect(x, h - pad - ha, bw, ha, "#0b5cad"), rect(x + bw, h - pad - hb, bw, hb, "#1d6b2e"));
    }
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", 0); label.setAttribute("y", 12); label.textContent = String(max);
    parts.push(label);
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.replaceChildren(...parts);
    svg.setAttribute("aria-label", `Per hour over the last 12 hours: orders ${a.join(", ")}; delivered ${b.join(", ")}`);
  }

  function queue(orders) {
    const sel = $("queue-state");
    const states = [...new Set(orders.map((o) => o.status))].sort();
    const chosen = sel.value;
    sel.replaceChildren(hf.el("option", { value: "", text: `All open orders (${orders.length})` }),
      ...states.map((s) => hf.el("option", { value: s, selected: s === chosen, text: `${s.replaceAll("_", " ")} (${orders.filter((o) => o.status === s).length})` })));
    const rank = { late: 0, at_risk: 1, on_time: 2 };
    const rows = orders.filter((o) => !chosen || o.status === chosen).sort((x, y) => rank[x.risk] - rank[y.risk] || x.deadline.localeCompare(y.deadline));
    $("queue").tBodies[0].replaceChildren(...rows.map((o) => hf.el("tr", { "data-shipment": o.shipment_id },
      hf.el("td", {}, hf.el("abbr", { title: o.order_id, text: `…${o.order_id.slice(-8)}` })), hf.el("td", { text: o.merchant }), hf.el("td", { text: o.status.replaceAll("_", " ") }),
      hf.el("td", { text: hf.time(o.eta) }), hf.el("td", { text: hf.time(o.deadline) }),
      hf.el("td", {}, hf.el("span", { class: `badge ${o.risk === "late" ? "late" : o.risk === "at_risk" ? "risk" : "ontime"}`, text: o.risk.replace("_", " ") })))));
  }

  async function refresh() {
    const data = await hf.call("GET", "/ops/live.json");
    last = data;
    const points = hfmap.drawNetwork(layer, data);
    if (!fitted && points.length) { hfmap.fit(map, points); fitted = true; }
    const modes = [...new Set([...data.vehicles.map((v) => v.mode), ...data.couriers.map((c) => c.mode)])].sort();
    hfmap.legend($("legend"), modes);
    kpis(data.kpis);
    chart(data.series);
    queue(data.orders);
    $("updated").textContent = new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
  }

  $("queue-state").addEventListener("change", () => last && queue(last.orders));
  hf.poll(refresh, 5000);
})();
