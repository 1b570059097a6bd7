"""A base for Hypothesis state machines that drive the HTTP API: every example gets its
own copy of the migrated SQLite template, the app on a manual clock, and an operator
key; ``run`` binds the template and keeps the run small (unless asked for more)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from hubflow.api.app import create_app
from hubflow.catalog.model import Role
from hubflow.catalog.service import create_key
from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork, make_engine
from hubflow.core.settings import Settings
from tests.conftest import T0, Api

__all__ = ["ApiMachine", "run"]


class ApiMachine(RuleBasedStateMachine):
    template: ClassVar[Path]

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        path = Path(self.dir) / "hubflow.db"
        shutil.copy(self.template, path)
        self.engine = make_engine(f"sqlite:///{path}")
        self.clock = ManualClock(T0)
        self.client = TestClient(
            create_app(
                Settings(dispatch_time_limit_s=0.2),
                engine=self.engine,
                clock=self.clock,
                run_relay=False,
            ),
            raise_server_exceptions=False,
        )
        with UnitOfWork(self.engine) as uow:
            key, _ = create_key(uow, Role.OPERATOR, None, "tests", self.clock.now())
        self.api = Api(self.client, self.engine, self.clock, key.secret)

    def teardown(self) -> None:
        self.client.close()
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    def ok(self, r: Any) -> Any:
        """Any answer but a crash."""
        assert r.status_code < 500, r.text
        return r


def run(machine: type[ApiMachine], template: Path, *, examples: int, steps: int) -> None:
    """Few examples by default, to keep the suite quick; HUBFLOW_MACHINE_EXAMPLES and
    HUBFLOW_MACHINE_STEPS ask for a deeper run."""
    examples = int(os.environ.get("HUBFLOW_MACHINE_EXAMPLES", examples))
    steps = int(os.environ.get("HUBFLOW_MACHINE_STEPS", steps))
    bound = type(machine.__name__, (machine,), {"template": template})
    run_state_machine_as_test(
        bound,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
