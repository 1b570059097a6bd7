"""A seeded generator of demo catalogs for three kinds of merchant.

* a bakery: loaves, pastry boxes, cakes, cookies; small and light, the cream
  cakes chilled;
* a grocer: dairy and eggs (chilled), frozen food, produce boxes, pantry staples;
* an auto-parts chain (the twin's fourth merchant): filters, brake pads, batteries
  (hazmat), wiper blades, oil, tire chains; heavy and bulky, some over a drone's limit;
* an electronics chain: phones, laptops, TVs, headphones, cables, chargers, with
  dimensions in millimetres, weights in grams and values in cents; power banks
  are lithium batteries and so hazmat.

Each product also carries a ``popularity`` weight (how often customers order it)
that the demo uses to pick order lines and decide what stores carry; it is not
sent to the API. The same seed gives the same catalog.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from hubflow.catalog.model import Temperature

__all__ = ["KINDS", "MERCHANTS", "MerchantSpec", "ProductSpec", "catalog_for", "generate_catalog"]


@dataclass(frozen=True)
class ProductSpec:
    sku: str
    name: str
    dims_mm: tuple[int, int, int]
    weight_g: int
    value_cents: int
    temperature: Temperature = Temperature.AMBIENT
    hazmat: bool = False
    popularity: float = 1.0
    max_per_order: int = 3

    def as_json(self, currency: str = "USD") -> dict[str, Any]:
        length, width, height = self.dims_mm
        return {
            "sku": self.sku,
            "name": self.name,
            "dimensions_mm": {"length": length, "width": width, "height": height},
            "weight_g": self.weight_g,
            "value": {"amount": self.value_cents, "currency": currency},
            "temperature": self.temperature.value,
            "hazmat": self.hazmat,
        }


@dataclass(frozen=True)
class MerchantSpec:
    key: str
    name: str
    kind: str
    share_of_orders: float
    fc_coverage: float  # share of the catalog the fulfillment center stocks
    store_coverage: float  # share of the long tail a store carries besides the best sellers
    stores: tuple[str, ...] | None = None  # the stores (by key) it stocks; None: every one


MERCHANTS = (
    # A bakery baking for the city stores; the fulfillment center keeps the longer-life lines.
    MerchantSpec(
        "bakery",
        "Rainier Bakehouse",
        "bakery",
        0.25,
        0.55,
        0.35,
        ("downtown", "capitol-hill", "ballard", "fremont", "u-district", "west-seattle"),
    ),
    # A grocer in every store.
    MerchantSpec("grocer", "Cascade Fresh Market", "grocer", 0.45, 0.65, 0.3),
    # An electronics chain using the big suburban stores (and downtown for pick-up).
    MerchantSpec(
        "electronics",
        "Sound Electronics",
        "electronics",
        0.30,
        0.8,
        0.2,
        ("downtown", "northgate", "bellevue", "redmond", "renton", "lynnwood"),
    ),
)

# (name, dims mm, weight g, price cents, temperature, hazmat, per-order max)
_Base = tuple[str, tuple[int, int, int], int, int, Temperature, bool, int]
A, C, F = Temperature.AMBIENT, Temperature.CHILLED, Temperature.FROZEN

_BAKERY: list[_Base] = [
    ("Sourdough Loaf", (280, 140, 110), 900, 850, A, False, 3),
    ("Country Rye Loaf", (260, 130, 110), 850, 900, A, False, 3),
    ("Seeded Multigrain Loaf", (250, 120, 110), 800, 875, A, False, 3),
    ("Baguette", (650, 70, 60), 250, 450, A, False, 4),
    ("Brioche Loaf", (230, 120, 110), 500, 950, A, False, 2),
    ("Challah", (330, 150, 100), 600, 1050, A, False, 2),
    ("Croissant Box (6)", (250, 180, 90), 420, 1400, A, False, 3),
    ("Pain au Chocolat Box (6)", (250, 180, 90), 480, 1550, A, False, 3),
    ("Morning Bun Box (4)", (220, 220, 90), 520, 1300, A, False, 3),
    ("Cinnamon Roll Box (4)", (220, 220, 90), 640, 1450, A, False, 3),
    ("Scone Box (6)", (250, 180, 80), 600, 1300, A, False, 3),
    ("Muffin Box (6)", (270, 180, 100), 720, 1350, A, False, 3),
    ("Chocolate Chip Cookies (12)", (200, 150, 60), 480, 1100, A, False, 4),
    ("Oatmeal Raisin Cookies (12)", (200, 150, 60), 480, 1050, A, False, 4),
    ("Shortbread Tin", (180, 180, 70), 400, 1600, A, False, 4),
    ("Granola Jar", (90, 90, 160), 500, 1200, A, False, 4),
    ("Cheesecake (8 in)", (230, 230, 90), 1300, 3600, C, False, 1),
    ("Tiramisu Tray", (240, 180, 70), 900, 3200, C, False, 1),
    ("Carrot Cake (8 in)", (230, 230, 120), 1400, 3800, C, False, 1),
    ("Chocolate Layer Cake (8 in)", (230, 230, 130), 1600, 4200, C, False, 1),
    ("Lemon Tart", (220, 220, 50), 700, 2800, C, False, 1),
    ("Fruit Tart", (220, 220, 50), 750, 3000, C, False, 1),
    ("Eclair Box (4)", (220, 160, 60), 360, 1600, C, False, 2),
    ("Cream Puff Box (6)", (220, 160, 70), 380, 1500, C, False, 2),
]
_BAKERY_VARIANTS = ["Classic", "Whole Wheat", "Gluten-Free", "Vegan", "Seasonal"]

_GROCER: list[_Base] = [
    ("Whole Milk 1 gal", (150, 150, 260), 3950, 499, C, False, 2),
    ("2% Milk 1/2 gal", (95, 95, 240), 2000, 349, C, False, 3),
    ("Oat Milk 64 oz", (95, 95, 240), 1950, 499, C, False, 3),
    ("Greek Yogurt 32 oz", (125, 125, 110), 950, 599, C, False, 3),
    ("Large Brown Eggs (12)", (300, 110, 70), 700, 549, C, False, 3),
    ("Pasture Eggs (18)", (300, 160, 70), 1050, 849, C, False, 2),
    ("Salted Butter 1 lb", (130, 65, 65), 470, 649, C, False, 3),
    ("Sharp Cheddar 8 oz", (150, 80, 30), 240, 549, C, False, 3),
    ("Chicken Breast 1.5 lb", (230, 160, 50), 720, 1299, C, False, 2),
    ("Wild Salmon Fillet 1 lb", (250, 120, 40), 480, 1999, C, False, 2),
    ("Hummus 10 oz", (110, 110, 60), 300, 449, C, False, 3),
    ("Frozen Peas 16 oz", (200, 140, 40), 460, 299, F, False, 4),
    ("Frozen Blueberries 3 lb", (280, 200, 60), 1380, 1199, F, False, 2),
    ("Vanilla Ice Cream 1.5 qt", (150, 150, 130), 900, 699, F, False, 3),
    ("Margherita Pizza (frozen)", (300, 300, 40), 520, 899, F, False, 3),
    ("Chicken Dumplings (frozen) 24 ct", (250, 180, 60), 680, 999, F, False, 3),
    ("Veggie Burgers (frozen) 4 ct", (200, 150, 50), 450, 749, F, False, 3),
    ("Seasonal Produce Box (small)", (400, 300, 200), 4500, 3499, C, False, 1),
    ("Seasonal Produce Box (large)", (500, 400, 250), 8000, 5499, C, False, 1),
    ("Bananas (bunch)", (250, 150, 100), 900, 199, A, False, 3),
    ("Honeycrisp Apples 3 lb", (300, 200, 120), 1360, 699, A, False, 2),
    ("Avocados (4)", (200, 150, 80), 800, 599, A, False, 2),
    ("Baby Spinach 5 oz", (220, 150, 90), 150, 399, C, False, 3),
    ("Strawberries 1 lb", (180, 120, 80), 460, 499, C, False, 3),
    ("Jasmine Rice 5 lb", (300, 200, 80), 2270, 899, A, False, 2),
    ("Spaghetti 1 lb", (270, 80, 30), 460, 199, A, False, 4),
    ("Marinara Sauce 24 oz", (80, 80, 180), 900, 549, A, False, 3),
    ("Extra Virgin Olive Oil 1 L", (80, 80, 290), 1150, 1299, A, False, 2),
    ("Ground Coffee 12 oz", (150, 90, 60), 370, 1099, A, False, 3),
    ("Sparkling Water 12-pack", (400, 270, 125), 4600, 699, A, False, 2),
    ("Peanut Butter 16 oz", (90, 90, 110), 560, 449, A, False, 3),
    ("Rolled Oats 42 oz", (200, 130, 95), 1250, 599, A, False, 2),
    ("Paper Towels 6-roll", (560, 280, 140), 1400, 1199, A, False, 2),
    ("Dish Soap 28 oz", (100, 60, 250), 900, 399, A, False, 3),
]
_GROCER_BRANDS = ["Cascade", "Evergreen", "Puget Farms", "Orchard Lane"]

_ELECTRONICS: list[_Base] = [
    ("Smartphone 128 GB", (147, 72, 8), 172, 79900, A, False, 1),
    ("Smartphone 256 GB", (160, 77, 8), 201, 99900, A, False, 1),
    ("Budget Smartphone 64 GB", (165, 76, 9), 190, 19900, A, False, 1),
    ("13-in Laptop", (304, 215, 11), 1240, 109900, A, False, 1),
    ("15-in Laptop", (358, 246, 18), 1860, 149900, A, False, 1),
    ("Chromebook 14-in", (325, 218, 18), 1500, 32900, A, False, 1),
    ("10-in Tablet", (248, 179, 7), 477, 44900, A, False, 1),
    ("43-in 4K TV", (960, 560, 85), 8200, 32900, A, False, 1),
    ("55-in 4K TV", (1230, 710, 80), 15500, 59900, A, False, 1),
    ("65-in OLED TV", (1450, 830, 50), 21000, 179900, A, False, 1),
    ("Noise-Cancelling Headphones", (200, 170, 80), 250, 34900, A, False, 2),
    ("Wireless Earbuds", (60, 50, 25), 55, 17900, A, False, 2),
    ("Bluetooth Speaker", (180, 70, 70), 540, 9900, A, False, 2),
    ("Smartwatch", (45, 38, 11), 38, 39900, A, False, 1),
    ("USB-C Cable 2 m", (120, 90, 20), 60, 1999, A, False, 4),
    ("HDMI 2.1 Cable 3 m", (150, 110, 25), 140, 2499, A, False, 3),
    ("Lightning Cable 1 m", (110, 80, 15), 40, 1799, A, False, 4),
    ("65 W USB-C Charger", (60, 60, 30), 120, 4999, A, False, 3),
    ("Wireless Charging Pad", (100, 100, 12), 110, 3999, A, False, 2),
    ("Power Bank 20,000 mAh", (150, 70, 25), 360, 5999, A, True, 2),
    ("Power Bank 10,000 mAh", (105, 65, 15), 210, 3499, A, True, 2),
    ("Wireless Mouse", (115, 65, 40), 95, 2999, A, False, 2),
    ("Mechanical Keyboard", (440, 135, 40), 980, 12900, A, False, 1),
    ("27-in 4K Monitor", (615, 365, 55), 5800, 39900, A, False, 1),
    ("1 TB Portable SSD", (86, 58, 9), 58, 11900, A, False, 2),
    ("Streaming Stick 4K", (99, 30, 14), 43, 4999, A, False, 2),
    ("Game Console", (390, 260, 104), 3900, 49900, A, False, 1),
    ("Action Camera", (71, 55, 34), 154, 39900, A, False, 1),
]
_ELECTRONICS_LINES = ["Nimbus", "Vertex", "Orca", "Summit"]

_AUTO_PARTS: list[_Base] = [
    ("Engine Oil 5W-30 5 qt", (250, 120, 280), 4600, 3299, A, False, 2),
    ("Oil Filter", (95, 95, 120), 350, 899, A, False, 3),
    ("Cabin Air Filter", (250, 220, 40), 250, 1999, A, False, 2),
    ("Engine Air Filter", (300, 250, 60), 450, 2299, A, False, 2),
    ("Front Brake Pads", (180, 120, 70), 1500, 5499, A, False, 2),
    ("Rear Brake Rotors (pair)", (300, 300, 120), 9000, 11999, A, False, 1),
    ("Wiper Blades 22 in", (600, 80, 40), 300, 2499, A, False, 2),
    ("Car Battery Group 35", (240, 175, 225), 17000, 18999, A, True, 1),
    ("Spark Plugs (4)", (120, 90, 40), 200, 2999, A, False, 2),
    ("Serpentine Belt", (250, 200, 40), 300, 3499, A, False, 1),
    ("Headlight Bulb H11 (pair)", (120, 80, 50), 100, 2799, A, False, 2),
    ("Coolant 1 gal", (150, 100, 280), 4200, 1999, A, False, 2),
    ("Windshield Washer Fluid 1 gal", (150, 100, 280), 4000, 499, A, False, 3),
    ("Tire Chains (pair)", (350, 250, 100), 4500, 7999, A, False, 1),
    ("Jump Starter Pack", (200, 100, 60), 900, 9999, A, True, 1),
    ("Floor Mats (set)", (700, 500, 60), 3500, 5999, A, False, 1),
    ("Tire Pressure Gauge", (150, 50, 30), 80, 999, A, False, 3),
    ("Microfiber Towels (6)", (250, 200, 50), 300, 1299, A, False, 3),
]
_AUTO_BRANDS = ["Rainier Auto", "Cascade Pro", "Olympic Parts"]

KINDS = ("bakery", "grocer", "electronics", "auto_parts")


def _jitter(rng: random.Random, value: int, spread: float) -> int:
    return max(1, round(value * rng.uniform(1 - spread, 1 + spread)))


def _price(rng: random.Random, cents: int) -> int:
    """A shelf price near ``cents``, ending in .99 (or .49 below ten dollars)."""
    v = cents * rng.uniform(0.85, 1.15)
    if v < 1000:
        return max(99, round(v / 50) * 50 - 1)
    return round(v / 100) * 100 - 1


def _zipf(rng: random.Random, n: int) -> list[float]:
    """Popularity weights: a few best sellers and a long tail, in shuffled order."""
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(n)]
    rng.shuffle(weights)
    return weights


def _expand(
    rng: random.Random,
    prefix: str,
    bases: list[_Base],
    variants: list[str],
    per_base: tuple[int, int],
    *,
    variant_first: bool,
) -> list[ProductSpec]:
    out: list[ProductSpec] = []
    for i, (name, dims, weight, price, temp, hazmat, max_q) in enumerate(bases):
        k = rng.randint(*per_base)
        for j, variant in enumerate(rng.sample(variants, k)):
            full = f"{variant} {name}" if variant_first else f"{name} ({variant})"
            out.append(
                ProductSpec(
                    sku=f"{prefix}-{i + 1:03d}-{j + 1:02d}",
                    name=full,
                    dims_mm=(
                        _jitter(rng, dims[0], 0.05),
                        _jitter(rng, dims[1], 0.05),
                        _jitter(rng, dims[2], 0.05),
                    ),
                    weight_g=_jitter(rng, weight, 0.08),
                    value_cents=_price(rng, price),
                    temperature=temp,
                    hazmat=hazmat,
                    max_per_order=max_q,
                )
            )
    popularity = _zipf(rng, len(out))
    return [replace(p, popularity=w) for p, w in zip(out, popularity, strict=True)]


def generate_catalog(seed: int) -> dict[str, list[ProductSpec]]:
    """Merchant key -> its products (about 300 in all), the same for the same seed."""
    rng = random.Random(f"hubflow-catalog-{seed}")
    return {
        "bakery": _expand(rng, "BKR", _BAKERY, _BAKERY_VARIANTS, (2, 3), variant_first=True),
        "grocer": _expand(rng, "GRC", _GROCER, _GROCER_BRANDS, (3, 4), variant_first=True),
        "electronics": _expand(
            rng, "ELX", _ELECTRONICS, _ELECTRONICS_LINES, (3, 4), variant_first=True
        ),
    }


def catalog_for(seed: int, kinds: tuple[str, ...] = KINDS) -> dict[str, list[ProductSpec]]:
    """Merchant kind -> its products for the twin: the demo's three catalogs for the same
    seed (unchanged) and, with its own seeded stream, the auto-parts chain's."""
    base = generate_catalog(seed)
    out: dict[str, list[ProductSpec]] = {}
    for kind in kinds:
        if kind in base:
            out[kind] = base[kind]
        elif kind == "auto_parts":
            rng = random.Random(f"hubflow-catalog-auto-{seed}")
            out[kind] = _expand(rng, "AUT", _AUTO_PARTS, _AUTO_BRANDS, (2, 3), variant_first=True)
        else:
            raise ValueError(f"unknown merchant kind {kind!r}; known: {list(KINDS)}")
    return out
