"""Scenario files, overrides, the generator and the TOML writer."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hubflow.sim.generate import dumps, generate, seattle, spread
from hubflow.sim.run import DEFAULT_SCENARIO
from hubflow.sim.scenario import Scenario, ScenarioError, apply_overrides, load, parse_value
from tests.twin_scenarios import tiny


def test_the_shipped_default_is_what_the_generator_writes() -> None:
    shipped = tomllib.loads(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    assert shipped == seattle()
    sc = Scenario.from_dict(shipped)
    kinds = {m.kind for m in sc.merchants}
    assert kinds == {"bakery", "grocer", "electronics", "auto_parts"}
    assert len(sc.lockers) >= 5
    assert sum(a.population for a in sc.areas) > 500  # thousands of residents
    assert {m for h in sc.hubs for m in h.fleet} >= {"van", "drone", "robot", "cargo_bike"}


def test_dumps_round_trips_through_tomllib() -> None:
    for data in (seattle(), generate(20, 120, 5000), tiny()):
        assert tomllib.loads(dumps(data)) == data


def test_generate_grows_to_the_sizes_asked() -> None:
    data = generate(30, 300, 20000)
    sc = Scenario.from_dict(data)
    assert len(sc.hubs) == 30
    assert sum(sum(sc.fleet_of(h).values()) for h in sc.hubs) == 300
    assert sc.demand.orders_per_day == 20000
    assert generate(30, 300, 20000) == data  # seeded


def test_a_grown_network_is_sized_for_its_demand() -> None:
    # At 20,000 orders the default day's slots ran out by midday at the busiest hubs.
    sc = Scenario.from_dict(generate(30, 300, 20000))
    fc = next(h for h in sc.hubs if h.key == "kent-fc")
    store = next(h for h in sc.hubs if h.key == "ballard")
    assert fc.promise["capacity"]["next_day"] >= 500 * 20000 // 1200
    assert 200 < store.promise["capacity"]["same_day"] < fc.promise["capacity"]["same_day"]
    assert fc.staff.pickers > 16 and store.staff.pickers > 2
    # Waves grow with the pickers: at 24 a wave every 5 minutes, the centre packed 288 an hour.
    assert fc.staff.wave_max >= 24 * 4 and store.staff.wave_max > 24
    assert all(sum(lk.compartments.values()) > 24 for lk in sc.lockers)
    # The vehicles go where the load grew most: the centre serves the whole metro.
    small = Scenario.from_dict(generate(30, 300, 1200))
    small_fc = next(h for h in small.hubs if h.key == "kent-fc")
    assert sum(sc.fleet_of(fc).values()) > 1.5 * sum(small.fleet_of(small_fc).values())
    # The default day's size keeps the platform's defaults.
    same = Scenario.from_dict(generate(14, 60, 1200))
    assert all(h.promise == {} for h in same.hubs)


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("0.5", 0.5), ("true", True), ("[1, 2]", [1, 2]), ('"x y"', "x y"), ("abc", "abc")],
)
def test_set_values_are_toml(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_overrides_follow_dotted_keys_and_hub_keys() -> None:
    data = tiny()
    out = apply_overrides(
        data,
        [
            "demand.orders_per_day=99",
            "hubs.dark.fleet.drone=4",
            "hubs.1.radius_km=2.5",
            "fleet_scale.car=0",
        ],
    )
    assert data["demand"]["orders_per_day"] == 30  # the input is not changed
    sc = Scenario.from_dict(out)
    assert sc.demand.orders_per_day == 99
    assert sc.hubs[0].fleet["drone"] == 4
    assert sc.hubs[1].radius_km == 2.5
    assert sc.fleet_of(sc.hubs[1]) == {}  # no cars left


@pytest.mark.parametrize(
    "item",
    ["demand.orders_per_day", "hubs.nowhere.fleet.van=1", "seed.x=1", "=3"],
)
def test_bad_overrides_say_why(item: str) -> None:
    with pytest.raises(ScenarioError):
        apply_overrides(tiny(), [item])


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("demand.member_share", 2),
        ("demand.by_hour", [1, 2]),
        ("demand.option_mix", {"teleport": 1}),
        ("hubs.dark.fleet", {"hovercraft": 1}),
        ("hubs.dark.kind", "castle"),
        ("end_hour", 5),
        ("date", "yesterday"),
        ("lockers.westlake.hub", "nowhere"),
        ("hubs.dark.promise", {"capacity": {"teleport": 3}}),
        ("hubs.dark.promise", {"next_day_cutoff": "25:00"}),
    ],
)
def test_bad_scenarios_are_refused(path: str, value: object) -> None:
    data = apply_overrides(tiny(), [f"{path}=0"])
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = (
            next(x for x in node if x.get("key") == part) if isinstance(node, list) else node[part]
        )
    node[parts[-1]] = value
    with pytest.raises(ScenarioError):
        Scenario.from_dict(data)


def test_load_reads_a_file_with_overrides(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(dumps(tiny()), encoding="utf-8")
    assert load(f, ["seed=11"]).seed == 11
    with pytest.raises(ScenarioError):
        load(tmp_path / "missing.toml")


def test_spread_is_exact_and_proportional() -> None:
    assert spread(10, [1, 1, 2]) == [3, 2, 5] or sum(spread(10, [1, 1, 2])) == 10
    assert sum(spread(20000, [0.3, 7.5, 1.2])) == 20000
    assert spread(0, [1, 2]) == [0, 0]
