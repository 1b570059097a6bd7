"""``hubflow dispatch-agent`` as the competition ran agents: a subprocess on pipes, driven by
the in-repo controller on a tiny instance with a short epoch limit."""

from __future__ import annotations

import sys

import pytest

from hubflow.delivery.euro.environment import Environment, run_controller
from tests.unit.delivery.test_euro import tiny_instance

AGENT = [sys.executable, "-m", "hubflow.cli", "dispatch-agent"]


@pytest.mark.parametrize("policy", ["sampling", "greedy"])
def test_agent_plays_a_run_over_pipes_and_exits_0(policy: str) -> None:
    env = Environment(tiny_instance(), seed=4, epoch_tlim=1.5)
    result = run_controller(env, [*AGENT, "--policy", policy, "--seed", "1"])
    assert result.error is None, result.error
    assert result.returncode == 0
    assert result.ok
    assert result.epochs == env.end_epoch - env.start_epoch + 1
    assert result.cost == -sum(result.rewards) > 0


def test_controller_reports_an_agent_that_breaks_the_protocol() -> None:
    env = Environment(tiny_instance(), seed=4, epoch_tlim=1.5)
    script = (
        "import sys, json\n"
        "print(json.dumps({'action': 'reset'}), flush=True)\n"
        "sys.stdin.readline()\n"
        "print(json.dumps({'action': 'step', 'data': [[999999]]}), flush=True)\n"
        "sys.stdin.readline()\n"
    )
    result = run_controller(env, [sys.executable, "-c", script])
    assert not result.ok
    assert result.error is not None and "not open" in result.error
