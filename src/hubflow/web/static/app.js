// Shared by every page: JSON calls with the session's CSRF token, announcements for
// screen readers, and small formatting helpers. No framework, nothing from the internet.
"use strict";
const hf = (() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  let seq = 0;

  async function call(method, url, body, extraHeaders) {
    const headers = { Accept: "application/json", ...(extraHeaders || {}) };
    if (method !== "GET") {
      headers["X-CSRF-Token"] = csrf;
      // A retried tap must not deliver twice: the courier API replays by this key.
      headers["Idempotency-Key"] = `web-${Date.now()}-${seq++}`;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    const data = text ? JSON.parse(text) : null;
    if (!resp.ok) {
      const err = new Error((data && data.error && data.error.message) || resp.statusText);
      err.code = data && data.error ? data.error.code : String(resp.status);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  function announce(message, isError) {
    const el = document.getElementById("announce");
    if (!el) return;
    el.textContent = message;
    el.classList.toggle("show", Boolean(message));
    el.dataset.kind = isError ? "error" : "info";
    clearTimeout(announce.t);
    announce.t = setTimeout(() => el.classList.remove("show"), 5000);
  }

  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  // Poll ``fn`` every ``ms`` while the page is visible; errors are announced once.
  function poll(fn, ms) {
    let failing = false;
    async function tick() {
      if (document.visibilityState === "visible") {
        try { await fn(); failing = false; }
        catch (e) { if (!failing) announce(`Could not refresh: ${e.message}`, true); failing = true; }
      }
      setTimeout(tick, ms);
    }
    tick();
  }

  // Tables stack into one block per row on a phone (hubflow.css): each cell carries its
  // column's name in data-label, kept up to date as scripts replace rows. The roles are
  // set explicitly because a table shown as blocks loses them in some browsers.
  function labelCells(table) {
    const head = table.tHead ? [...table.tHead.rows[0].cells].map((th) => th.textContent.trim()) : [];
    table.setAttribute("role", "table");
    for (const group of [table.tHead, ...table.tBodies]) if (group) group.setAttribute("role", "rowgroup");
    for (const th of table.querySelectorAll("th")) th.setAttribute("role", "columnheader");
    for (const row of table.tBodies[0] ? table.tBodies[0].rows : []) {
      row.setAttribute("role", "row");
      let col = 0;
      for (const cell of row.cells) {
        cell.setAttribute("role", "cell");
        if (cell.colSpan === 1 && head[col]) cell.dataset.label = head[col];
        col += cell.colSpan;
      }
    }
    if (table.tHead) table.tHead.rows[0].setAttribute("role", "row");
  }

  for (const table of document.querySelectorAll(".table-wrap table")) {
    labelCells(table);
    new MutationObserver(() => labelCells(table)).observe(table, { childList: true, subtree: true });
  }

  return { call, announce, time, el, poll, csrf };
})();
