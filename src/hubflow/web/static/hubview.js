// A hub's waves: release one (POST /v1/hubs/{id}/waves) and watch picking progress.
"use strict";
(() => {
  const root = document.getElementById("hub-view");
  const hubId = root.dataset.hubId;
  const cutoff = document.getElementById("cutoff");
  const soon = new Date(Date.now() + 2 * 3600 * 1000);
  cutoff.value = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

  function row(w) {
    const pct = w.units ? Math.round(100 * w.picked / w.units) : 0;
    const bar = hf.el("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct, "aria-label": `Wave ${w.id} picked` }, hf.el("span"));
    bar.firstChild.style.width = `${pct}%`;
    return hf.el("tr", { "data-wave": w.id }, hf.el("td", { text: w.id }), hf.el("td", { text: w.status }),
      hf.el("td", { text: new Date(w.cutoff_at).toLocaleString() }), hf.el("td", { text: w.batches }),
      hf.el("td", {}, `${w.picked} / ${w.units} units`, bar));
  }

  async function refresh() {
    const data = await hf.call("GET", `/ops/hubs/${hubId}/waves.json`);
    const body = document.querySelector("#waves tbody");
    body.replaceChildren(...(data.waves.length ? data.waves.map(row) : [hf.el("tr", {}, hf.el("td", { colspan: 5, text: "No waves yet." }))]));
  }

  document.getElementById("wave-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const w = await hf.call("POST", `/v1/hubs/${hubId}/waves`, { cutoff: new Date(cutoff.value).toISOString() });
      hf.announce(`Wave ${w.id} released`);
    } catch (err) { hf.announce(`No wave: ${err.message}`, true); }
    await refresh();
  });
  hf.poll(refresh, 5000);
})();
