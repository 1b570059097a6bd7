// Usable at phone width (tests/browser/a11y.py): every control is on the screen (not cut
// off at the right, nor pushed past it) and big enough to tap — 24 px at least (WCAG 2.2
// "target size (minimum)"), links inside running text excepted. Controls inside a table
// that scrolls sideways in its own region are reached by scrolling it, so they count only
// when the region itself is off the screen.
() => {
  const problems = [];
  const width = window.innerWidth;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.getAttribute("name") ? `[name=${el.getAttribute("name")}]` : "") +
    ` "${(el.textContent || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 30)}"`;
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.visibility !== "hidden" && s.display !== "none" && r.width > 0 && r.height > 0;
  };
  const inlineLink = (el) => el.tagName === "A" && getComputedStyle(el).display === "inline" &&
    el.parentElement && [...el.parentElement.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const controls = "a[href], button, input:not([type=hidden]), select, textarea, [role=tab], [tabindex='0']";
  for (const el of document.querySelectorAll(controls)) {
    if (!visible(el) || el.closest(".leaflet-container") || el.classList.contains("skip")) continue;
    const wrap = el.closest(".table-wrap");
    const scroller = wrap && wrap !== el && wrap.scrollWidth > wrap.clientWidth + 1 ? wrap : null;
    const box = (scroller || el).getBoundingClientRect();
    if (box.left < -1 || box.right > width + 1) problems.push(`off the screen (${Math.round(box.left)}..${Math.round(box.right)} px): ${describe(el)}`);
    if (scroller) continue;
    const r = el.getBoundingClientRect();
    if (!inlineLink(el) && el.type !== "checkbox" && el.type !== "radio" && (r.width < 24 || r.height < 24)) {
      problems.push(`too small to tap (${Math.round(r.width)}x${Math.round(r.height)} px): ${describe(el)}`);
    }
  }
  return problems;
}
