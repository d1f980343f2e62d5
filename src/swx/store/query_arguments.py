"""One gate for the read functions (`swx.store.queries`): what they are given is checked against
their type hints before any SQL runs, so a caller from Python (a notebook, a page, a script) gets one
`SwxError` line naming the argument and what was expected, never a TypeError, SQLAlchemy's text or the
driver's error. The same gate checks the database holds this swx's tables and that a run asked for
exists."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import math
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from swx.errors import DatabaseReadError, InputError, NotFoundError, reason_of
from swx.store import orm as m
from swx.store.db import check_schema

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: the largest whole number a database column holds (SQLite and PostgreSQL BIGINT alike)
_MAX_INTEGER = 2**63 - 1

#: days a read may name: wide of any map or forecast, and far from the calendar's ends (a query reads
#: weeks around a day: 9999-12-31 plus a day is no date)
ERA = (dt.date(1900, 1, 1), dt.date(2999, 12, 31))


def _aware(v: object) -> bool:
    return isinstance(v, dt.datetime) and v.utcoffset() is not None and ERA[0] <= v.date() <= ERA[1]


def _day(v: object) -> bool:
    return isinstance(v, dt.date) and not isinstance(v, dt.datetime) and ERA[0] <= v <= ERA[1]


def _finite(v: object) -> bool:
    try:
        return math.isfinite(float(v))  # type: ignore[arg-type]
    except (OverflowError, TypeError, ValueError):  # 10**400: no float at all
        return False

#: what each simple type hint accepts, and how the refusal says it
_EXPECTED: dict[object, tuple[Callable[[Any], bool], str]] = {
    type(None): (lambda v: v is None, "None"),
    Engine: (lambda v: isinstance(v, Engine), "a database engine (swx.store.db.open_database)"),
    dt.datetime: (_aware, f"a timezone-aware datetime (UTC) from {ERA[0]} to {ERA[1]}"),
    dt.date: (_day, f"a date from {ERA[0]} to {ERA[1]}"),
    bool: (lambda v: isinstance(v, bool | np.bool_), "True or False"),
    int: (lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)
          and abs(int(v)) <= _MAX_INTEGER, "a whole number"),
    float: (lambda v: isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
            and _finite(v), "a finite number"),
    str: (lambda v: isinstance(v, str), "text"),
    Path: (lambda v: isinstance(v, str | os.PathLike), "a path"),
}

#: parameters that bound a range together: the first may not come after the second
_RANGES = (("start", "end"), ("first", "last"), ("first_target", "last_target"),
           ("first_target_day", "last_target_day"))


def _kinds(hint: object) -> tuple[object, ...] | None:
    """The simple types a hint allows (None when it holds anything else: not checked here)."""
    kinds = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return kinds if all(k in _EXPECTED for k in kinds) else None


def _said(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refusal(query: str, name: str, value: object, kinds: tuple[object, ...]) -> str:
    expected = " or ".join(_EXPECTED[k][1] for k in kinds)
    naive = " (it has no time zone)" if isinstance(value, dt.datetime) and value.utcoffset() is None else ""
    return f"{query}: {name}={_said(value)}{naive}: expected {expected}"


def checked_query(query: Callable[_P, _R]) -> Callable[_P, _R]:
    """`query` behind the gate: its simple-typed arguments checked (naive datetimes, text for dates,
    numbers out of range, NaN), a range that ends before it starts refused, a `run_id` that names no
    run a NotFoundError, an engine of a database without this swx's tables the SchemaError naming
    `swx db upgrade` (checked once per database and process), and a database that fails under the read
    a DatabaseReadError with the driver's one line."""
    signature = inspect.signature(query)

    @functools.lru_cache(maxsize=1)
    def hints() -> dict[str, tuple[object, ...]]:
        resolved = typing.get_type_hints(query)  # at the first call: every name of the module is defined
        return {name: kinds for name, hint in resolved.items() if name != "return" and (kinds := _kinds(hint))}

    @functools.wraps(query)
    def gate(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InputError(f"{query.__name__}: {exc}") from None
        given = bound.arguments
        for name, value in given.items():  # numpy's scalars as Python's: every rule below reads them alike
            if isinstance(value, np.generic) and not isinstance(value, np.bool_ | np.datetime64 | np.str_):
                given[name] = value.item()
        for name, kinds in hints().items():
            if name in given and not any(_EXPECTED[k][0](given[name]) for k in kinds):
                raise InputError(_refusal(query.__name__, name, given[name], kinds))
        args, kwargs = bound.args, bound.kwargs  # type: ignore[assignment]
        for first, last in _RANGES:
            a, b = given.get(first), given.get(last)
            if a is not None and b is not None and a > b:
                raise InputError(f"{query.__name__}: {first} {a} is after {last} {b}: expected a range "
                                 "that ends where or after it starts")
        engine = given.get("engine")
        if not isinstance(engine, Engine):
            return query(*args, **kwargs)
        try:
            check_schema(engine)
            if "run_id" in given:
                _check_run(engine, int(given["run_id"]))
            return query(*args, **kwargs)
        except DBAPIError as exc:  # the server down, the login refused, the connection dropped
            raise DatabaseReadError(reason_of(exc)) from exc
    return gate


def _check_run(engine: Engine, run_id: int) -> None:
    with engine.connect() as conn:
        if conn.execute(select(m.ForecastRun.id).where(m.ForecastRun.id == run_id)).first() is None:
            raise NotFoundError(f"no forecast run {run_id}")
