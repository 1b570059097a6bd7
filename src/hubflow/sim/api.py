"""The twin's last results served by the platform: ``/twin/report`` (the self-contained
HTML page) and ``/twin/results`` (the JSON), read from ``HUBFLOW_TWIN_DIR``. Public and
read-only, like the docs: a summary of a simulated day, no tenant's data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from hubflow.api.deps import State
from hubflow.core.errors import NotFound

__all__ = ["router"]

router = APIRouter(prefix="/twin", tags=["twin"])


def _file(state: Any, name: str) -> Path:
    folder = state.settings.twin_dir
    path = Path(folder) / name if folder else None
    if path is None or not path.is_file():
        raise NotFound(
            "no twin results here yet; run `hubflow demo` or `hubflow simulate` and serve "
            "with HUBFLOW_TWIN_DIR set to its output folder",
            code="twin_not_run",
        )
    return path


@router.get("/results", summary="The last twin run's KPIs (results.json)")
def twin_results(state: State) -> Any:
    return orjson.loads(_file(state, "results.json").read_bytes())


@router.get("/report", response_class=HTMLResponse, summary="The last twin run's report")
def twin_report(state: State) -> HTMLResponse:
    return HTMLResponse(_file(state, "report.html").read_text(encoding="utf-8"))
