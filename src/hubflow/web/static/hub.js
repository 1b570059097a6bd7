// Hub screens: one scan field (a keyboard-wedge scanner types the code and Enter) that
// means what the chosen task needs next: receive a product, stow a product then its
// bin, pick at the next bin then the product, pack a parcel.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const hubId = $("hub").dataset.hubId;
  const scan = $("scan");
  let mode = "receive", work = { asns: [], waves: [], skus: {} };
  const sku = (id) => work.skus[id] || id;
  let stowing = null;   // {code, quantity, suggestion} after a product scan in stow mode
  let atBin = null;     // the bin scanned for the next pick

  function prompt(text) { $("prompt").textContent = text; }
  const asn = () => work.asns.find((a) => a.id === $("notice").value);
  function batch() {
    const [waveId, n] = ($("batch").value || "").split("#");
    const wave = work.waves.find((w) => w.id === waveId);
    return wave ? wave.batches.find((b) => String(b.batch) === n) : null;
  }
  const nextPick = () => { const b = batch(); return b ? b.picks.find((p) => p.status === "open") : null; };

  function select(el, options, keep) {
    el.replaceChildren(...options.map(([value, text]) => hf.el("option", { value, text, selected: value === keep })));
  }

  function render() {
    select($("notice"), work.asns.map((a) => [a.id, `${a.reference || a.id} (${a.status})`]), $("notice").value);
    select($("batch"), work.waves.flatMap((w) => w.batches.map((b) => [`${w.id}#${b.batch}`, `Wave ${w.id.slice(-6)}, list ${b.batch}`])), $("batch").value);
    const a = asn();
    $("receive-lines").tBodies[0].replaceChildren(...(a ? a.lines : []).map((l) => hf.el("tr", {},
      hf.el("td", { text: sku(l.product_id) }), hf.el("td", { text: l.expected }), hf.el("td", { text: l.received }),
      hf.el("td", { text: l.damaged }), hf.el("td", { text: l.stowed }))));
    $("stow-lines").replaceChildren(...(a ? a.lines.filter((l) => l.at_dock > 0) : []).map((l) =>
      hf.el("li", { text: `${sku(l.product_id)}: ${l.at_dock} at the dock` })));
    const b = batch(), next = nextPick();
    $("picks").replaceChildren(...(b ? b.picks : []).map((p) => hf.el("li", { class: p === next ? "next" : "", "data-task": p.task_id },
      hf.el("strong", { text: `Bin ${p.bin_code}` }), ` · ${p.picked}/${p.quantity} of ${sku(p.product_id)} · tote ${p.tote} · ${p.status}`)));
    if (mode === "receive") prompt(a ? "Scan a product from the delivery" : "No inbound notice is open at this hub");
    if (mode === "stow") prompt(stowing ? `Put ${stowing.quantity} in bin ${stowing.suggestion.bin_code}, then scan the bin` : "Scan a product from the dock");
    if (mode === "pick") {
      if (!next) prompt(b ? "This pick list is done" : "No pick list is open at this hub");
      else prompt(atBin ? `Scan the product (${next.quantity - next.picked} to pick)` : `Go to bin ${next.bin_code} and scan it`);
      if (next) $("qty").value = String(next.quantity - next.picked);
    }
    if (mode === "pack") prompt("Scan the parcel to pack");
  }

  async function refresh() {
    work = await hf.call("GET", `/hub/${hubId}/work.json`);
    render();
    document.body.dataset.loaded = "true";
  }

  async function handle(code) {
    const quantity = Math.max(1, Number($("qty").value) || 1);
    try {
      if (mode === "receive") {
        await hf.call("POST", `/hub/${hubId}/receive`, { asn_id: $("notice").value, code, quantity, damaged: $("damaged").checked });
        hf.announce(`Received ${quantity} × ${code}`);
      } else if (mode === "stow" && !stowing) {
        const out = await hf.call("POST", `/hub/${hubId}/stow`, { asn_id: $("notice").value, code, quantity });
        stowing = { code, quantity, suggestion: out.suggestion };
      } else if (mode === "stow") {
        await hf.call("POST", `/hub/${hubId}/stow`, { asn_id: $("notice").value, code: stowing.code, quantity: stowing.quantity, bin_code: code });
        hf.announce(`Stowed ${stowing.quantity} in ${code}`);
        stowing = null;
      } else if (mode === "pick") {
        const next = nextPick();
        if (!next) throw new Error("nothing left to pick on this list");
        if (!atBin) {
          if (code !== next.bin_code) throw new Error(`wrong bin: go to ${next.bin_code}`);
          atBin = code;
        } else {
          await hf.call("POST", `/hub/${hubId}/pick`, { task_id: next.task_id, bin_code: atBin, code, quantity });
          hf.announce(`Picked ${quantity} from ${atBin}`);
          atBin = null;
        }
      } else if (mode === "pack") {
        const out = await hf.call("POST", `/hub/${hubId}/pack`, { code });
        const cartons = out.cartons ? out.cartons.length : 1;
        $("packed").prepend(hf.el("li", { "data-shipment": code, text: `${code}: ${cartons} carton(s)` }));
        hf.announce(`Packed ${code}`);
      }
    } catch (err) { hf.announce(err.message, true); prompt(err.message); return; }
    await refresh();
  }

  scan.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const code = scan.value.trim();
    scan.value = "";
    if (code) handle(code);
  });

  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      mode = tab.id.replace("tab-", "");
      stowing = null; atBin = null;
      for (const t of document.querySelectorAll("[role=tab]")) {
        const on = t === tab;
        t.setAttribute("aria-selected", String(on));
        t.classList.toggle("primary", on);
        $(t.getAttribute("aria-controls")).classList.toggle("hidden", !on);
      }
      $("notice-box").classList.toggle("hidden", !(mode === "receive" || mode === "stow"));
      $("batch-box").classList.toggle("hidden", mode !== "pick");
      $("damaged-box").classList.toggle("hidden", mode !== "receive");
      render();
      scan.focus();
    });
  }
  $("tab-receive").classList.add("primary");
  for (const id of ["notice", "batch"]) $(id).addEventListener("change", () => { stowing = null; atBin = null; render(); scan.focus(); });
  $("short").addEventListener("click", async () => {
    const next = nextPick();
    if (!next) return;
    try {
      await hf.call("POST", `/hub/${hubId}/short`, { task_id: next.task_id, found: Number($("found").value) || 0 });
      hf.announce(`Short reported at ${next.bin_code}`);
    } catch (err) { hf.announce(err.message, true); }
    atBin = null;
    await refresh();
  });
  hf.poll(refresh, 10000);
})();
