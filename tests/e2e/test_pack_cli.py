"""``hubflow pack FILE`` as a subprocess: JSON in, JSON out, exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hubflow.fulfillment.cartonize import Box, Item, PackedBox, Packing, Placement, check_packing

PACK = [sys.executable, "-m", "hubflow.cli", "pack"]

REQUEST = {
    "boxes": [
        {"id": "S", "dims": [200, 150, 100], "max_weight": 5000, "cost": 1.2},
        {"id": "M", "dims": [300, 250, 200], "max_weight": 10000, "cost": 2.0},
    ],
    "items": [
        {"id": "mug", "dims": [120, 90, 95], "weight": 350},
        {"id": "book", "dims": [240, 160, 30], "weight": 600},
        {"id": "pole", "dims": [900, 30, 30], "weight": 600},
    ],
}


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PACK, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_pack_prints_boxes_positions_and_the_unpacked(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps(REQUEST))
    done = run([str(path), "--time-limit", "1"])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["unpacked"] == [{"id": "pole", "reason": "larger than every box"}]
    assert [b["box_id"] for b in out["boxes"]] == ["M"]
    assert out["total"]["cost"] == 2.0
    # The printed packing passes the independent checker.
    boxes = [Box(b["id"], tuple(b["dims"]), b["max_weight"], b["cost"]) for b in REQUEST["boxes"]]
    items = [Item(i["id"], tuple(i["dims"]), i["weight"]) for i in REQUEST["items"]]
    packing = Packing(
        tuple(
            PackedBox(
                b["box_id"],
                tuple(
                    Placement(p["id"], tuple(p["position"]), tuple(p["size"]), p["orientation"])
                    for p in b["items"]
                ),
                b["weight"],
            )
            for b in out["boxes"]
        ),
        (),
    )
    errors = check_packing(boxes, items, packing)
    assert errors == ["item pole appears 0 times (want exactly once)"]


def test_pack_reads_stdin() -> None:
    done = run(["-"], stdin=json.dumps(REQUEST))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"]["boxes"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ('{"boxes": [], "items": []}', "boxes must not be empty"),
        ('{"boxes": [{"id": "S", "dims": [1, 2], "max_weight": 1}], "items": []}', "boxes[0]"),
    ],
)
def test_bad_input_exits_2_with_a_message(body: str, message: str) -> None:
    done = run(["-"], stdin=body)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    done = run([str(tmp_path / "nope.json")])
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
