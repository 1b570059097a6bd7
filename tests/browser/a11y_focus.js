// What has keyboard focus, and whether it shows a focus ring (tests/browser/a11y.py).
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, text: (el.textContent || el.value || "").trim().slice(0, 30),
    outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0,
    shadow: s.boxShadow !== "none", w: r.width, h: r.height,
  };
}
