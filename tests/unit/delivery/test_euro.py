"""The EURO-NeurIPS 2022 pieces on tiny synthetic instances: reading the format, the
environment's rules (sampling, dropping, must-dispatch, validation) and in-process play."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hubflow.delivery.euro.agent import AgentSettings, EuroSampler, epoch_state, play
from hubflow.delivery.euro.environment import (
    EPOCH_S,
    Environment,
    InvalidSolution,
    epoch_bounds,
    validate,
)
from hubflow.delivery.euro.instance import EuroInstance, read_instance

QUALIFICATION = Path(__file__).resolve().parents[4] / (
    "shared/data/dispatch/euro-neurips-2022/qualification"
)


def tiny_instance(n: int = 20, seed: int = 0) -> EuroInstance:
    """``n`` customers around a central depot; windows open between 1 h and 4 h, so a run
    has three epochs; a few windows close early enough that some requests get dropped."""
    rng = np.random.default_rng(seed)
    coords = np.vstack([[500, 500], rng.integers(0, 1000, size=(n, 2))]).astype(np.int64)
    matrix = (np.abs(coords[:, None, :] - coords[None, :, :]).sum(axis=2) * 2).astype(np.int64)
    early = rng.integers(3600, 4 * 3600, size=n)
    width = rng.choice([1800, 3600, 7200], size=n)
    tw = np.vstack([[0, 24 * 3600], np.column_stack([early, early + width])]).astype(np.int64)
    demands = np.concatenate([[0], rng.integers(1, 10, size=n)]).astype(np.int64)
    service = np.concatenate([[0], rng.integers(60, 600, size=n)]).astype(np.int64)
    return EuroInstance(
        name=f"tiny-{n}-{seed}",
        capacity=30,
        coords=coords,
        demands=demands,
        time_windows=tw,
        service_times=service,
        duration_matrix=matrix,
    )


def write_instance(inst: EuroInstance, path: Path) -> None:
    n = len(inst.demands)
    lines = [f"NAME : {inst.name}", "TYPE : VRPTW", f"DIMENSION : {n}", "VEHICLES : 5"]
    lines += [f"CAPACITY : {inst.capacity}", "EDGE_WEIGHT_TYPE : EXPLICIT", "EDGE_WEIGHT_SECTION"]
    lines += ["\t".join(map(str, row)) for row in inst.duration_matrix]
    lines.append("NODE_COORD_SECTION")
    lines += [f"{i + 1}\t{x}\t{y}" for i, (x, y) in enumerate(inst.coords)]
    lines.append("DEMAND_SECTION")
    lines += [f"{i + 1}\t{d}" for i, d in enumerate(inst.demands)]
    lines += ["DEPOT_SECTION", "1", "-1", "SERVICE_TIME_SECTION"]
    lines += [f"{i + 1}\t{s}" for i, s in enumerate(inst.service_times)]
    lines.append("TIME_WINDOW_SECTION")
    lines += [f"{i + 1}\t{a}\t{b}" for i, (a, b) in enumerate(inst.time_windows)]
    lines.append("EOF")
    path.write_text("\n".join(lines) + "\n")


def _run_to_end(env: Environment, routes_for: str = "singletons") -> list[dict[str, Any]]:
    obs: dict[str, Any] | None
    obs, _ = env.reset()
    seen = [obs]
    done = False
    while not done:
        assert obs is not None
        ei = obs["epoch_instance"]
        req = ei["request_idx"][~ei["is_depot"]]
        pick = req if routes_for == "singletons" else req[ei["must_dispatch"][~ei["is_depot"]]]
        obs, _, done, info = env.step([[int(r)] for r in pick])
        assert info["error"] is None
        if obs is not None:
            seen.append(obs)
    return seen


def test_read_instance_round_trips(tmp_path: Path) -> None:
    inst = tiny_instance(7)
    write_instance(inst, tmp_path / "tiny.txt")
    back = read_instance(tmp_path / "tiny.txt")
    assert back.name == inst.name and back.capacity == inst.capacity
    for key in ("coords", "demands", "time_windows", "service_times", "duration_matrix"):
        assert np.array_equal(getattr(back, key), getattr(inst, key))
    assert EuroInstance.from_dict(back.to_dict()).num_customers == 7


def test_read_instance_rejects_a_broken_file(tmp_path: Path) -> None:
    write_instance(tiny_instance(4), tmp_path / "t.txt")
    text = (tmp_path / "t.txt").read_text().replace("DEMAND_SECTION\n1\t0\n", "DEMAND_SECTION\n")
    (tmp_path / "bad.txt").write_text(text)
    with pytest.raises(ValueError, match="DEMAND_SECTION"):
        read_instance(tmp_path / "bad.txt")


@pytest.mark.skipif(not QUALIFICATION.is_dir(), reason="competition data not present")
def test_reads_a_qualification_instance() -> None:
    inst = read_instance(QUALIFICATION / "ORTEC-VRPTW-ASYM-c170c387-d1-n238-k17.txt")
    assert inst.num_customers == 238 and inst.duration_matrix.shape == (239, 239)
    assert epoch_bounds(inst)[1] > epoch_bounds(inst)[0]


def test_sampling_is_reproducible_for_a_seed() -> None:
    inst = tiny_instance()
    a = Environment(inst, seed=5, epoch_tlim=10).reset()[0]["epoch_instance"]
    b = Environment(inst, seed=5, epoch_tlim=10).reset()[0]["epoch_instance"]
    c = Environment(inst, seed=6, epoch_tlim=10).reset()[0]["epoch_instance"]
    for key in ("customer_idx", "time_windows", "demands", "service_times", "must_dispatch"):
        assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a["customer_idx"], c["customer_idx"])


def test_dropping_and_must_dispatch_rules() -> None:
    inst = tiny_instance()
    env = Environment(inst, seed=1, epoch_tlim=10)
    for obs in _run_to_end(env, routes_for="must"):
        ei = obs["epoch_instance"]
        cust = ei["customer_idx"][1:]
        late = ei["time_windows"][1:, 1]  # relative to the planning start
        reach = inst.duration_matrix[0, cust]
        # Nothing open that the vehicles leaving now could not reach...
        assert (reach <= late).all()
        if obs["current_epoch"] == env.end_epoch:
            assert ei["must_dispatch"][1:].all()
        else:
            # ...and must-dispatch exactly when the next epoch's vehicles could not.
            assert np.array_equal(ei["must_dispatch"][1:], EPOCH_S + reach > late)
        assert not ei["must_dispatch"][0] and ei["is_depot"][0]
    # Some of the 100 draws per epoch fall on windows closed by then.
    epochs = env.end_epoch - env.start_epoch + 1
    assert 0 < env.num_requests < 100 * epochs
    assert env.total_reward < 0 and env.error is None


def _epoch() -> tuple[Environment, dict[str, Any]]:
    env = Environment(tiny_instance(), seed=3, epoch_tlim=10)
    env.reset()
    return env, env.epoch_instance


def test_validate_accepts_singletons_and_counts_driving() -> None:
    _, ei = _epoch()
    reqs = [int(r) for r in ei["request_idx"][1:]]
    d = ei["duration_matrix"]
    assert validate(ei, [[r] for r in reqs]) == int(
        sum(d[0, i] + d[i, 0] for i in range(1, len(reqs) + 1))
    )


def test_validate_rejects_bad_routes() -> None:
    _, ei = _epoch()
    reqs = [int(r) for r in ei["request_idx"][1:]]
    must = [int(r) for r in ei["request_idx"][ei["must_dispatch"]]]
    everything = [[r] for r in reqs]
    with pytest.raises(InvalidSolution, match="twice"):
        validate(ei, [*everything, [reqs[0]]])
    with pytest.raises(InvalidSolution, match="not open"):
        validate(ei, [*everything, [10_000]])
    with pytest.raises(InvalidSolution, match="not open"):
        validate(ei, [*everything, [0]])  # the depot is no request
    with pytest.raises(InvalidSolution, match="non-empty"):
        validate(ei, [*everything, []])
    with pytest.raises(InvalidSolution, match="capacity"):
        validate(ei, [reqs])
    if must:
        with pytest.raises(InvalidSolution, match="must-dispatch"):
            validate(ei, [[r] for r in reqs if r != must[0]])
    late = dict(ei, time_windows=ei["time_windows"].copy())
    late["time_windows"][1, 1] = 0
    with pytest.raises(InvalidSolution, match="reached at"):
        validate(late, everything)


def test_invalid_or_late_answers_fail_the_run() -> None:
    now = [0.0]
    env = Environment(tiny_instance(), seed=3, epoch_tlim=10, clock=lambda: now[0])
    obs, _ = env.reset()
    now[0] = 11.5  # past the limit and the 1 s grace
    req = obs["epoch_instance"]["request_idx"][1:]
    _, _, done, info = env.step([[int(r)] for r in req])
    assert done and "epoch_tlim" in info["error"] and env.error

    env = Environment(tiny_instance(), seed=3, epoch_tlim=10)
    env.reset()
    _, reward, done, info = env.step([[1, 1]])
    assert done and reward == 0 and "twice" in info["error"]


def test_sampler_draws_like_the_environment() -> None:
    inst = tiny_instance()
    sampler = EuroSampler(inst, end_epoch=2)
    reqs = sampler.sample(7200, epochs=5, rng=np.random.default_rng(0))
    releases = {r.release_s for r in reqs}
    # Epoch 2's vehicles leave at 10,800: no draws past the last epoch.
    assert releases <= {10_800}
    assert all(r.release_s + inst.duration_matrix[0, r.location] <= r.tw_late for r in reqs)


@pytest.mark.parametrize("policy", ["greedy", "lazy", "sampling"])
def test_play_a_tiny_run(policy: str) -> None:
    env = Environment(tiny_instance(), seed=2, epoch_tlim=1.0)
    result = play(env, AgentSettings(policy=policy, seed=0))
    assert result.error is None
    assert len(result.rewards) == env.end_epoch - env.start_epoch + 1
    assert result.cost == -sum(result.rewards) > 0


def test_epoch_state_uses_absolute_times() -> None:
    env = Environment(tiny_instance(), seed=2, epoch_tlim=1.0)
    obs, info = env.reset()
    state = epoch_state(obs, env.instance, end_epoch=info["end_epoch"], sampler=None)
    start = obs["planning_starttime"]
    assert state.planning_start_s == start
    assert all(r.tw_late >= start for r in state.requests)
    assert state.must_dispatch_ids == {
        int(r) for r in obs["epoch_instance"]["request_idx"][obs["epoch_instance"]["must_dispatch"]]
    }


def test_static_variant_is_one_epoch_with_every_customer() -> None:
    inst = tiny_instance(6)
    env = Environment(inst, seed=0, epoch_tlim=1.0, is_static=True)
    result = play(env, AgentSettings(policy="greedy"))
    assert result.error is None and result.requests == 6 and len(result.rewards) == 1


def test_agent_settings_validation() -> None:
    for bad in ({"select_share": 1.0}, {"margin_s": -1.0}, {"fill_factor": -0.1}):
        with pytest.raises(ValueError):
            AgentSettings(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown policy"):
        AgentSettings(policy="oracle")
