"""One detailed error type, with a subclass per HTTP outcome.

Every error carries a machine-readable ``code``, a human ``message`` and optional
``details``; the API maps them to ``{"error": {"code", "message", "details"}}``.

HubflowError
 ├── InvalidInput        422
 ├── Unauthorized        401
 ├── Forbidden           403
 ├── NotFound            404
 ├── Conflict            409
 │    ├── InsufficientStock
 │    ├── IllegalTransition
 │    └── IdempotencyConflict
 └── SchemaOutOfDate     (start-up only)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "Forbidden",
    "HubflowError",
    "IdempotencyConflict",
    "IllegalTransition",
    "InsufficientStock",
    "InvalidInput",
    "NotFound",
    "SchemaOutOfDate",
    "Unauthorized",
]


class HubflowError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(HubflowError):
    status_code = 422
    code = "invalid_request"


class Unauthorized(HubflowError):
    status_code = 401
    code = "unauthorized"


class Forbidden(HubflowError):
    status_code = 403
    code = "forbidden"


class NotFound(HubflowError):
    status_code = 404
    code = "not_found"


class Conflict(HubflowError):
    status_code = 409
    code = "conflict"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class SchemaOutOfDate(HubflowError):
    code = "schema_out_of_date"
