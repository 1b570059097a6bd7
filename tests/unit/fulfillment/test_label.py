"""Shipping labels: a 4x6 inch PDF that says who, where, what and how heavy."""

from __future__ import annotations

import io

import pytest

from hubflow.fulfillment.label import LabelAddress, ShippingLabel, label_pdf

pypdf = pytest.importorskip("pypdf")

LABEL = ShippingLabel(
    sender=LabelAddress("Seattle dark store 3", ("1200 Pine St", "Seattle WA 98101", "US")),
    recipient=LabelAddress("Ada Lovelace", ("12 Main Street", "Apt 4", "Seattle WA 98109", "US")),
    shipment_id="shp_01JD7ZQ8X9KQ3V5N2M4P6R8T0W",
    weight_g=1250,
    tracking="https://hubflow.example/t/tok_abc123",
)


def test_the_label_is_one_4x6_inch_pdf_page_with_the_text() -> None:
    pdf = label_pdf(LABEL)
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    (page,) = reader.pages
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (288.0, 432.0)
    text = page.extract_text()
    for expected in (
        "Seattle dark store 3",
        "1200 Pine St",
        "Ada Lovelace",
        "Seattle WA 98109",
        "shp_01JD7ZQ8X9KQ3V5N2M4P6R8T0W",
        "1.25 kg",
    ):
        assert expected in text


def test_the_label_draws_the_two_codes() -> None:
    # Barcodes and QR modules are filled rectangles in the content stream, not text.
    page = pypdf.PdfReader(io.BytesIO(label_pdf(LABEL))).pages[0]
    content = page.get_contents().get_data()
    assert content.count(b" re") > 100


def test_reprints_are_identical() -> None:
    assert label_pdf(LABEL) == label_pdf(LABEL)


@pytest.mark.parametrize(
    "change",
    [
        {"shipment_id": ""},
        {"shipment_id": "shp_ü"},
        {"weight_g": 0},
        {"tracking": " "},
    ],
)
def test_bad_labels_raise(change: dict[str, object]) -> None:
    fields = {
        "sender": LABEL.sender,
        "recipient": LABEL.recipient,
        "shipment_id": LABEL.shipment_id,
        "weight_g": LABEL.weight_g,
        "tracking": LABEL.tracking,
    }
    with pytest.raises(ValueError):
        ShippingLabel(**{**fields, **change})  # type: ignore[arg-type]


def test_bad_addresses_raise() -> None:
    with pytest.raises(ValueError):
        LabelAddress("", ("x",))
    with pytest.raises(ValueError):
        LabelAddress("Ada", ())
    with pytest.raises(ValueError):
        LabelAddress("Ada", ("two\nlines",))
