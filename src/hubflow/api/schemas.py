"""Shared request/response pieces: safe strings, ids, pages."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from hubflow.core.ids import ID_PATTERN

__all__ = [
    "ErrorBody",
    "ErrorOut",
    "Page",
    "PathId",
    "RefId",
    "Strict",
    "text",
]


def _printable(value: str) -> str:
    # PostgreSQL rejects NUL in text and lone surrogates cannot be encoded:
    # refuse them here so they are a 422, not a database error.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


def text(max_length: int, min_length: int = 1) -> Any:
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, strip_whitespace=False),
        AfterValidator(_printable),
    ]


RefId = Annotated[
    str, Field(pattern=ID_PATTERN, max_length=32, examples=["prd_01JD0000000000000000000000"])
]
PathId = Annotated[str, Path(pattern=ID_PATTERN, max_length=32)]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so typos are caught, not ignored."""

    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null on the last page"
    )


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    error: ErrorBody
