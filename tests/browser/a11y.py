"""Accessibility checks run inside the page: axe-core (the copy that the PyPI package
axe-playwright-python ships, evaluated through Playwright, so the pages' CSP stays on)
with the WCAG 2.1 A and AA rules; and our own: labels on form fields, names on buttons
and links, alt text, WCAG AA contrast of rendered text, one h1, the page's language, no
sideways scrolling at phone width, controls on the screen and big enough to tap there,
and keyboard focus that moves through the page with
a visible outline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import axe_playwright_python

HERE = Path(__file__).parent
_AUDIT = (HERE / "a11y_audit.js").read_text()
_FOCUSED = (HERE / "a11y_focus.js").read_text()
_PHONE = (HERE / "a11y_phone.js").read_text()
_AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
_AXE_RUN = """async () => {
  const out = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
  });
  return out.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
    v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
}"""


def axe_violations(page: Any) -> list[str]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_AXE)
    found: list[str] = page.evaluate(_AXE_RUN)
    return found


def audit(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(_AUDIT)
    return problems


def tab_through(page: Any, presses: int = 12) -> list[dict[str, Any]]:
    """Press Tab and record what gets focus; every stop must show a focus ring."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    stops: list[dict[str, Any]] = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        f = page.evaluate(_FOCUSED)
        if f is None:
            continue
        stops.append(f)
    return stops


def check_page(page: Any) -> None:
    problems = audit(page) + axe_violations(page)
    assert problems == [], "\n".join(problems)
    stops = tab_through(page)
    assert stops, "Tab reaches nothing on the page"
    unringed = [s for s in stops if not (s["outline"] or s["shadow"])]
    assert unringed == [], f"focus without a visible ring: {unringed}"


def check_phone(page: Any) -> None:
    """``check_page`` at phone width, and every control on the screen and big enough to
    tap (``a11y_phone.js``)."""
    width = page.evaluate("() => window.innerWidth")
    assert width <= 400, f"not a phone-width page: {width} px"
    problems: list[str] = page.evaluate(_PHONE)
    assert problems == [], "\n".join(problems)
    check_page(page)
