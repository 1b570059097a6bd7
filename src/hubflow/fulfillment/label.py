"""Shipping labels: a 4x6 inch PDF page for thermal label printers.

The label carries the sending hub, the recipient's address, the shipment id as text and as
a Code 128 barcode (what a courier's scanner reads at hand-over), the weight, and a QR code
with the tracking URL or token (what the recipient's phone reads). reportlab draws both
codes itself, so no image library or font file is needed. The text uses the PDF standard
fonts (Windows-1252): letters outside that set print as boxes until a Unicode TrueType font
is registered.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

__all__ = ["LabelAddress", "ShippingLabel", "label_pdf"]

PAGE = (4 * inch, 6 * inch)
_MARGIN = 0.15 * inch
_MAX_TEXT = 120


def _text(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be non-empty text")
    if len(value) > _MAX_TEXT or any(ch in value for ch in "\r\n"):
        raise ValueError(f"{name} must be one line of at most {_MAX_TEXT} characters")


@dataclass(frozen=True)
class LabelAddress:
    """A name and the address lines under it, printed as given."""

    name: str
    lines: tuple[str, ...]

    def __post_init__(self) -> None:
        _text("name", self.name)
        object.__setattr__(self, "lines", tuple(self.lines))
        if not 1 <= len(self.lines) <= 5:
            raise ValueError("an address has 1 to 5 lines")
        for line in self.lines:
            _text("address line", line)


@dataclass(frozen=True)
class ShippingLabel:
    sender: LabelAddress
    recipient: LabelAddress
    shipment_id: str
    weight_g: int
    tracking: str  # a tracking URL or token, for the QR code

    def __post_init__(self) -> None:
        _text("shipment_id", self.shipment_id)
        if not self.shipment_id.isascii() or not self.shipment_id.isprintable():
            raise ValueError("shipment_id must be printable ASCII (Code 128)")
        if isinstance(self.weight_g, bool) or not isinstance(self.weight_g, int):
            raise ValueError("weight_g must be whole grams")
        if self.weight_g <= 0:
            raise ValueError("weight_g must be positive")
        if not isinstance(self.tracking, str) or not self.tracking.strip():
            raise ValueError("tracking must be a non-empty URL or token")
        if len(self.tracking) > 500:
            raise ValueError("tracking must be at most 500 characters")


def label_pdf(label: ShippingLabel) -> bytes:
    """One 4x6 inch page; byte-for-byte the same for the same label."""
    out = io.BytesIO()
    width, height = PAGE
    # invariant: no creation date or random document id, so reprints are identical.
    c = Canvas(out, pagesize=PAGE, invariant=1, pageCompression=1)
    c.setTitle(f"Shipping label {label.shipment_id}")
    left, top = _MARGIN, height - _MARGIN

    c.setFont("Helvetica-Bold", 7)
    c.drawString(left, top - 7, "FROM")
    c.setFont("Helvetica", 8)
    y = top - 17
    for line in (label.sender.name, *label.sender.lines):
        c.drawString(left, y, line)
        y -= 9

    y -= 4
    c.line(left, y, width - _MARGIN, y)
    y -= 12
    c.setFont("Helvetica-Bold", 8)
    c.drawString(left, y, "SHIP TO")
    y -= 16
    c.setFont("Helvetica-Bold", 13)
    c.drawString(left, y, label.recipient.name)
    c.setFont("Helvetica", 12)
    for line in label.recipient.lines:
        y -= 15
        c.drawString(left, y, line)

    y -= 12
    c.line(left, y, width - _MARGIN, y)
    qr_size = 1.35 * inch
    qr_top = y - 6
    _draw_qr(c, label.tracking, left, qr_top - qr_size, qr_size)
    text_x = left + qr_size + 10
    c.setFont("Helvetica-Bold", 9)
    c.drawString(text_x, qr_top - 14, "SHIPMENT")
    c.setFont("Helvetica", 9)
    c.drawString(text_x, qr_top - 26, label.shipment_id)
    c.setFont("Helvetica-Bold", 9)
    c.drawString(text_x, qr_top - 44, "WEIGHT")
    c.setFont("Helvetica", 9)
    c.drawString(text_x, qr_top - 56, f"{label.weight_g / 1000:.2f} kg")
    c.setFont("Helvetica", 6)
    c.drawString(text_x, qr_top - 74, "Scan to track")

    _draw_code128(c, label.shipment_id, left, _MARGIN + 14, width - 2 * _MARGIN)
    c.setFont("Helvetica", 8)
    c.drawCentredString(width / 2, _MARGIN + 2, label.shipment_id)
    c.showPage()
    c.save()
    return out.getvalue()


def _draw_qr(c: Canvas, value: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(value, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    drawing.drawOn(c, x, y)


def _draw_code128(c: Canvas, value: str, x: float, y: float, room: float) -> None:
    probe = Code128(value, barWidth=1.0, quiet=1)
    # As wide as the label allows, capped at 1 pt a module (about 3 printer dots at 203 dpi).
    bar = min(1.0, room / probe.width)
    code = Code128(value, barWidth=bar, barHeight=0.9 * inch, quiet=1)
    code.drawOn(c, x + (room - code.width) / 2, y)
