"""Hub operation endpoints: what merchants send in (notices), and the scanner calls hub
staff make (receive, stow, pick, short pick). Scanner calls take an ``Idempotency-Key``
so a retried scan never counts twice."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, Field

from hubflow.api.deps import MerchantCaller, OperatorCaller, State
from hubflow.api.retries import OptionalIdempotencyKey, run_once
from hubflow.api.schemas import PathId, RefId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.core.ids import ID_PATTERN
from hubflow.fulfillment import inbound, outbound

router = APIRouter(prefix="/v1", tags=["hub operations"])


class AsnLineIn(Strict):
    product_id: RefId
    quantity: int = Field(ge=1, le=1_000_000)


class AsnIn(Strict):
    hub_id: RefId
    lines: list[AsnLineIn] = Field(min_length=1, max_length=500)
    reference: text(100) | None = None  # type: ignore[valid-type]
    expected_at: AwareDatetime | None = None


class ReceiveIn(Strict):
    product_id: RefId
    quantity: int = Field(default=1, ge=1, le=100_000)
    damaged: bool = False


class StowIn(Strict):
    product_id: RefId
    quantity: int = Field(ge=1, le=100_000)
    bin_code: text(40)  # type: ignore[valid-type]


class SuggestIn(Strict):
    product_id: RefId
    quantity: int = Field(ge=1, le=100_000)
    policy: str = Field(default="spread", pattern=r"^(spread|nearest_dock)$")


class PutAwayIn(Strict):
    policy: str = Field(default="spread", pattern=r"^(spread|nearest_dock)$")


class WaveIn(Strict):
    cutoff: AwareDatetime = Field(description="shipments due to leave by then join the wave")


class PickIn(Strict):
    bin_code: text(40)  # type: ignore[valid-type]
    product_id: RefId
    quantity: int = Field(default=1, ge=1, le=100_000)


class ShortIn(Strict):
    found: int = Field(ge=0, le=100_000, description="units actually in the bin")


@router.post("/asns", status_code=201)
def post_asn(body: AsnIn, state: State, who: MerchantCaller) -> dict[str, Any]:
    """An advance shipping notice: what the merchant is sending to a hub."""
    assert who.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        return inbound.create_asn(
            uow,
            who.merchant_id,
            body.hub_id,
            [(x.product_id, x.quantity) for x in body.lines],
            state.clock.now(),
            reference=body.reference,
            expected_at=body.expected_at,
        )


@router.get("/asns/{asn_id}")
def get_asn(asn_id: PathId, state: State, who: MerchantCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return inbound.get_asn(uow.conn, who.merchant_id, asn_id)


@router.post("/asns/{asn_id}/receipts")
def post_receipt(
    asn_id: PathId,
    body: ReceiveIn,
    state: State,
    _: OperatorCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Units scanned at the dock against the notice (damaged ones counted apart)."""
    now = state.clock.now()
    return run_once(
        state,
        "hub",
        key,
        f"/asns/{asn_id}/receipts",
        body.model_dump(),
        lambda uow: inbound.receive_scan(
            uow, asn_id, body.product_id, body.quantity, body.damaged, now
        ),
        response,
    )


@router.post("/asns/{asn_id}/stow-suggestion")
def post_suggestion(
    asn_id: PathId, body: SuggestIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """A bin with room, chosen by the stow policy (the stower may use any bin with room)."""
    with UnitOfWork(state.engine, readonly=True) as uow:
        return inbound.suggest_bin(uow.conn, asn_id, body.product_id, body.quantity, body.policy)


@router.post("/asns/{asn_id}/stows")
def post_stow(
    asn_id: PathId,
    body: StowIn,
    state: State,
    _: OperatorCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Units from the dock into the bin scanned; they become available to promise."""
    now = state.clock.now()
    return run_once(
        state,
        "hub",
        key,
        f"/asns/{asn_id}/stows",
        body.model_dump(),
        lambda uow: inbound.stow(uow, asn_id, body.product_id, body.quantity, body.bin_code, now),
        response,
    )


@router.post("/asns/{asn_id}/put-away")
def post_put_away(
    asn_id: PathId,
    body: PutAwayIn,
    state: State,
    _: OperatorCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Everything at the dock into bins the stow policy chooses, as many as it takes;
    what no bin has room for stays at the dock (``left_at_dock``)."""
    now = state.clock.now()
    return run_once(
        state,
        "hub",
        key,
        f"/asns/{asn_id}/put-away",
        body.model_dump(),
        lambda uow: inbound.stow_all(uow, asn_id, now, policy=body.policy),
        response,
    )


@router.post("/asns/{asn_id}/close")
def post_close(asn_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        out = inbound.close_asn(uow, None, asn_id, state.clock.now())
    state.poke_relay()
    return out


@router.post("/hubs/{hub_id}/waves", status_code=201)
def post_wave(hub_id: PathId, body: WaveIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    """Release a wave: everything due by the cutoff, batched onto carts, in walking order."""
    from hubflow.fulfillment.planning import plan_wave

    with UnitOfWork(state.engine) as uow:
        return outbound.create_wave(uow, hub_id, body.cutoff, state.clock.now(), plan_wave)


@router.get("/waves/{wave_id}")
def get_wave(wave_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return outbound.get_wave(uow.conn, wave_id)


@router.post("/picks/{task_id}/scan")
def post_pick(
    task_id: PathId,
    body: PickIn,
    state: State,
    _: OperatorCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """The picker scanned the bin and the product: wrong ones are refused (409)."""
    now = state.clock.now()
    return run_once(
        state,
        "hub",
        key,
        f"/picks/{task_id}/scan",
        body.model_dump(),
        lambda uow: outbound.pick(uow, task_id, body.bin_code, body.product_id, body.quantity, now),
        response,
    )


@router.post("/picks/{task_id}/short")
def post_short(
    task_id: PathId,
    body: ShortIn,
    state: State,
    _: OperatorCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """The bin holds fewer units: a cycle count is raised and another bin is found."""
    now = state.clock.now()
    return run_once(
        state,
        "hub",
        key,
        f"/picks/{task_id}/short",
        body.model_dump(),
        lambda uow: outbound.report_short(uow, task_id, body.found, now),
        response,
    )


class GenerateIn(Strict):
    blocks: int = Field(default=1, ge=1, le=10)
    aisles: int = Field(default=10, ge=1, le=100)
    bins_per_side: int = Field(default=20, ge=1, le=200)
    levels: int = Field(default=4, ge=1, le=12)
    zones: list[text(40)] = Field(default_factory=lambda: ["ambient"], min_length=1, max_length=20)  # type: ignore[valid-type]
    seed: int = Field(default=0, ge=0)


class LayoutIn(Strict):
    layout: dict[str, Any] | None = Field(default=None, description="a layout document")
    generate: GenerateIn | None = Field(default=None, description="or generate a regular one")


class BoxIn(Strict):
    code: text(40)  # type: ignore[valid-type]
    dims_mm: list[int] = Field(min_length=3, max_length=3)
    max_weight_g: int = Field(gt=0, le=1_000_000)
    cost: int = Field(default=0, ge=0, le=1_000_000)


class BoxesIn(Strict):
    boxes: list[BoxIn] = Field(min_length=1, max_length=100)


@router.put("/hubs/{hub_id}/layout")
def put_layout(hub_id: PathId, body: LayoutIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    """Set the hub's layout: a document, or a generated regular one."""
    from hubflow.core.errors import InvalidInput
    from hubflow.fulfillment.layout import generate
    from hubflow.fulfillment.layouts import put_layout as put

    if (body.layout is None) == (body.generate is None):
        raise InvalidInput("give either layout or generate", code="invalid_layout")
    if body.generate is not None:
        g = body.generate
        if len(g.zones) > g.aisles:
            raise InvalidInput("at most one zone per aisle", code="invalid_layout")
        doc = generate(
            g.blocks, g.aisles, g.bins_per_side, g.levels, zones=tuple(g.zones), seed=g.seed
        ).as_json()
    else:
        doc = body.layout or {}
    with UnitOfWork(state.engine) as uow:
        return put(uow, hub_id, doc, state.clock.now())


@router.get("/hubs/{hub_id}/layout")
def get_layout(hub_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    from hubflow.fulfillment.layouts import get_layout as get

    with UnitOfWork(state.engine, readonly=True) as uow:
        return get(uow.conn, hub_id)


@router.put("/hubs/{hub_id}/boxes")
def put_boxes(hub_id: PathId, body: BoxesIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    """The hub's carton catalogue (inner dimensions, weight limit, cost)."""
    from hubflow.core.errors import InvalidInput
    from hubflow.fulfillment.packing import put_boxes as put

    if any(not 0 < d <= 5_000 for b in body.boxes for d in b.dims_mm):
        raise InvalidInput("box dimensions are 1 to 5000 mm", code="invalid_box")
    with UnitOfWork(state.engine) as uow:
        return {"data": put(uow, hub_id, [b.model_dump() for b in body.boxes])}


@router.post("/shipments/{shipment_id}/pack")
def post_pack(
    shipment_id: PathId,
    state: State,
    _: OperatorCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Pack the picked units into cartons; the parcel becomes ready for dispatch."""
    from hubflow.fulfillment.packing import pack_shipment

    now = state.clock.now()
    return run_once(
        state,
        "hub",
        key,
        f"/shipments/{shipment_id}/pack",
        None,
        lambda uow: pack_shipment(uow, shipment_id, now),
        response,
    )


@router.get(
    "/shipments/{shipment_id}/label.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def get_label(shipment_id: PathId, state: State, _: OperatorCaller, request: Request) -> Response:
    """The 4x6 inch shipping label: addresses, weight, a QR code to the tracking page and a
    Code 128 barcode of the shipment id."""
    from hubflow.fulfillment.packing import shipping_label

    with UnitOfWork(state.engine, readonly=True) as uow:
        pdf = shipping_label(uow.conn, shipment_id, str(request.base_url))
    return Response(pdf, media_type="application/pdf")


class CountIn(Strict):
    bin_code: text(40)  # type: ignore[valid-type]
    product_id: RefId
    reason: str = Field(default="scheduled", pattern=r"^(scheduled|damage|audit)$")


class CountedIn(Strict):
    counted: int = Field(ge=0, le=1_000_000)
    merchant_id: RefId | None = Field(
        default=None, description="whose goods, when the bin held none of this product"
    )


@router.post("/hubs/{hub_id}/cycle-counts", status_code=201)
def post_count(hub_id: PathId, body: CountIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    """Ask for a bin to be counted (short picks raise one on their own)."""
    from hubflow.fulfillment.counts import schedule_count

    with UnitOfWork(state.engine) as uow:
        return schedule_count(
            uow, hub_id, body.bin_code, body.product_id, body.reason, state.clock.now()
        )


@router.get("/hubs/{hub_id}/cycle-counts")
def get_counts(
    hub_id: PathId, state: State, _: OperatorCaller, status: str | None = None
) -> dict[str, Any]:
    from hubflow.fulfillment.counts import list_counts

    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": list_counts(uow.conn, hub_id, status)}


@router.post("/cycle-counts/{count_id}")
def post_counted(
    count_id: PathId,
    body: CountedIn,
    state: State,
    _: OperatorCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """The counter's figure: the bin and the hub's stock are corrected (found or lost)."""
    from hubflow.fulfillment.counts import record_count

    now = state.clock.now()
    return run_once(
        state,
        "hub",
        key,
        f"/cycle-counts/{count_id}",
        body.model_dump(),
        lambda uow: record_count(uow, count_id, body.counted, body.merchant_id, now),
        response,
    )


@router.get("/hubs/{hub_id}/bins")
def get_bins(
    hub_id: PathId,
    state: State,
    _: OperatorCaller,
    product_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=32)] = None,
) -> dict[str, Any]:
    """Every bin of the hub with what it holds (or only the bins holding ``product_id``)."""
    from hubflow.fulfillment.layouts import bin_contents

    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": bin_contents(uow.conn, hub_id, product_id)}
