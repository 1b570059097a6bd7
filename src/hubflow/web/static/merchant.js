// Merchant portal actions: every form with data-method/data-url calls the JSON API with
// the session (fields become the JSON body; data-list fields split on commas). A
// response field named by data-show is displayed once (a new key's secret); otherwise
// the page reloads to show the change.
"use strict";
(() => {
  for (const form of document.querySelectorAll("form[data-url]")) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {};
      for (const field of form.querySelectorAll("input[name], select[name], textarea[name]")) {
        const v = field.value.trim();
        if (!v) continue;
        body[field.name] = field.dataset.list !== undefined ? v.split(",").map((x) => x.trim()).filter(Boolean) : v;
      }
      if (form.dataset.lines !== undefined) {  // one line of an inbound notice
        body.lines = [{ product_id: body.product_id, quantity: Number(body.quantity) }];
        delete body.product_id; delete body.quantity;
      }
      const method = form.dataset.method;
      try {
        const out = await hf.call(method, form.dataset.url, form.dataset.body === "none" ? undefined : body);
        if (form.dataset.show) {
          const box = document.getElementById(form.dataset.target);
          box.classList.remove("hidden");
          box.querySelector(".secret").textContent = out[form.dataset.show];
          box.querySelector("a, button").focus();
          hf.announce(form.dataset.done || "Done");
        } else {
          hf.announce(form.dataset.done || "Done");
          setTimeout(() => location.reload(), 400);
        }
      } catch (err) { hf.announce(err.message, true); }
    });
  }
})();
