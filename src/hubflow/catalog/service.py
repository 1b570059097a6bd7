"""Merchant, key and product use cases. Every product query is scoped to a merchant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from hubflow.catalog.model import NewKey, Product, Role, generate_key, hash_key
from hubflow.catalog.store import (
    api_keys_table,
    merchants_table,
    product_from_row,
    products_table,
)
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, NotFound, Unauthorized
from hubflow.core.events import Event, record
from hubflow.core.idempotency import Guard
from hubflow.core.ids import new_id
from hubflow.core.types import UTCDateTime

__all__ = [
    "KEY_STILL_VALID",
    "Principal",
    "authenticate",
    "create_key",
    "create_merchant",
    "create_product",
    "get_merchant",
    "list_keys",
    "list_products",
    "products_by_id",
    "require_product",
    "revoke_key",
]


@dataclass(frozen=True)
class Principal:
    role: Role
    key_id: str
    merchant_id: str | None
    courier_id: str | None = None

    @property
    def scope(self) -> str:
        """The tenant this principal's idempotency keys and data live under."""
        return self.merchant_id or "operator"


def create_merchant(
    uow: UnitOfWork, name: str, kind: str, now: datetime
) -> tuple[dict[str, Any], NewKey]:
    merchant_id = new_id("mer")
    uow.conn.execute(
        insert(merchants_table).values(id=merchant_id, name=name, kind=kind, created_at=now)
    )
    record(uow.conn, [Event("merchant.created", merchant_id, merchant_id, {"name": name})], now)
    key, _ = create_key(uow, Role.MERCHANT, merchant_id, "default", now)
    merchant = get_merchant(uow.conn, merchant_id)
    assert merchant is not None
    return merchant, key


def get_merchant(conn: Connection, merchant_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(merchants_table).where(merchants_table.c.id == merchant_id)).first()
    return dict(row._mapping) if row else None


def create_key(
    uow: UnitOfWork,
    role: Role,
    merchant_id: str | None,
    label: str,
    now: datetime,
    expires_at: datetime | None = None,
    courier_id: str | None = None,
) -> tuple[NewKey, str]:
    if (role is Role.MERCHANT) != (merchant_id is not None):
        raise ValueError("merchant keys need a merchant; other keys must not have one")
    if (role is Role.COURIER) != (courier_id is not None):
        raise ValueError("courier keys need a courier; other keys must not have one")
    key = generate_key(role)
    key_id = new_id("key")
    uow.conn.execute(
        insert(api_keys_table).values(
            id=key_id,
            role=role.value,
            merchant_id=merchant_id,
            courier_id=courier_id,
            prefix=key.prefix,
            key_hash=key.hash,
            label=label,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
        )
    )
    return key, key_id


def list_keys(conn: Connection, merchant_id: str | None) -> list[dict[str, Any]]:
    q = select(
        api_keys_table.c.id,
        api_keys_table.c.role,
        api_keys_table.c.merchant_id,
        api_keys_table.c.prefix,
        api_keys_table.c.label,
        api_keys_table.c.created_at,
        api_keys_table.c.expires_at,
        api_keys_table.c.revoked_at,
    ).order_by(api_keys_table.c.id)
    if merchant_id is not None:
        q = q.where(api_keys_table.c.merchant_id == merchant_id)
    return [dict(r._mapping) for r in conn.execute(q)]


def revoke_key(
    uow: UnitOfWork, id_or_prefix: str, now: datetime, merchant_id: str | None = None
) -> int:
    """Revoke by key id or visible prefix; merchants may revoke only their own keys."""
    t = api_keys_table
    q = (
        update(t)
        .where(or_(t.c.id == id_or_prefix, t.c.prefix == id_or_prefix))
        .where(t.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if merchant_id is not None:
        q = q.where(t.c.merchant_id == merchant_id)
    revoked = uow.conn.execute(q).rowcount
    if revoked == 0:
        raise NotFound(f"no active key {id_or_prefix}", code="key_not_found")
    return revoked


# Hot-path statements are built once: building a statement costs more CPU than running it.
_KEY_BY_HASH = select(
    api_keys_table.c.id,
    api_keys_table.c.role,
    api_keys_table.c.merchant_id,
    api_keys_table.c.courier_id,
    api_keys_table.c.expires_at,
    api_keys_table.c.revoked_at,
).where(api_keys_table.c.key_hash == bindparam("b_hash"))

# By primary key only, the tenant checked on the rows: with "merchant_id = ? AND id IN
# (...)" SQLite picks the (merchant_id, sku) index and scans all the merchant's products.
_PRODUCTS_BY_ID = select(products_table).where(
    products_table.c.id.in_(bindparam("b_ids", expanding=True)),
)


# The key is known, not revoked and not expired, as a condition an endpoint folds into
# its transaction's first statement (the claim of its Idempotency-Key) instead of
# reading the key in a statement of its own; ``authenticate`` says why when it fails.
KEY_STILL_VALID = Guard(
    exists().where(
        api_keys_table.c.key_hash == bindparam("g_key_hash"),
        api_keys_table.c.revoked_at.is_(None),
        or_(
            api_keys_table.c.expires_at.is_(None),
            api_keys_table.c.expires_at > bindparam("g_now", type_=UTCDateTime()),
        ),
    )
)


def authenticate(conn: Connection, secret: str, now: datetime) -> Principal:
    row = conn.execute(_KEY_BY_HASH, {"b_hash": hash_key(secret)}).first()
    if row is None:
        raise Unauthorized("unknown API key", code="invalid_api_key")
    if row.revoked_at is not None:
        raise Unauthorized("this API key was revoked", code="revoked_api_key")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("this API key has expired", code="expired_api_key")
    return Principal(
        role=Role(row.role), key_id=row.id, merchant_id=row.merchant_id, courier_id=row.courier_id
    )


def create_product(uow: UnitOfWork, merchant_id: str, now: datetime, **f: Any) -> Product:
    product_id = new_id("prd")
    try:
        with uow.conn.begin_nested():
            uow.conn.execute(
                insert(products_table).values(
                    id=product_id, merchant_id=merchant_id, created_at=now, **f
                )
            )
    except IntegrityError as exc:
        raise Conflict(
            f"sku {f['sku']!r} already exists for this merchant",
            code="duplicate_sku",
            details={"sku": f["sku"]},
        ) from exc
    record(
        uow.conn,
        [Event("product.created", product_id, merchant_id, {"sku": f["sku"]})],
        now,
    )
    return require_product(uow.conn, merchant_id, product_id)


def require_product(conn: Connection, merchant_id: str, product_id: str) -> Product:
    found = products_by_id(conn, merchant_id, [product_id])
    if product_id not in found:
        raise NotFound(f"product {product_id} not found", code="product_not_found")
    return found[product_id]


def products_by_id(
    conn: Connection, merchant_id: str, product_ids: list[str]
) -> dict[str, Product]:
    if not product_ids:
        return {}
    rows = conn.execute(_PRODUCTS_BY_ID, {"b_ids": sorted(set(product_ids))})
    return {r.id: product_from_row(r) for r in rows if r.merchant_id == merchant_id}


def list_products(
    conn: Connection, merchant_id: str, *, after: str | None, limit: int, sku: str | None = None
) -> list[Product]:
    q = (
        select(products_table)
        .where(products_table.c.merchant_id == merchant_id)
        .order_by(products_table.c.id)
        .limit(limit)
    )
    if after:
        q = q.where(products_table.c.id > after)
    if sku is not None:
        q = q.where(products_table.c.sku == sku)
    return [product_from_row(r) for r in conn.execute(q)]
