"""The error types swx raises on bad input, so callers can catch one family and report it."""

from __future__ import annotations


def reason_of(exc: BaseException) -> str:
    """An exception as the one line swx logs, stores as a run's or a day's reason and prints:
    `Type: message`; for a database error the driver's own first line, never SQLAlchemy's text, which
    quotes the statement and its parameters (values, perhaps secrets)."""
    if isinstance(exc, DatabaseReadError):  # already the driver's one line
        return str(exc)
    orig = getattr(exc, "orig", None)
    if orig is not None and hasattr(exc, "statement"):  # sqlalchemy.exc.DBAPIError (swx.errors stays free of it)
        first = str(orig).strip().splitlines()
        return f"database: {first[0] if first else type(exc).__name__} ({type(orig).__name__})"
    return f"{type(exc).__name__}: {exc}"


class SwxError(Exception):
    """Base class of every error swx raises on purpose."""


class DataFormatError(SwxError, ValueError):
    """A data file breaks its format. Names the file, the line (when known) and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<data>"
        if self.line is not None:
            where += f", line {self.line}"
        text = f"{where}: {self.message}"
        if self.expected:
            text += f" (expected {self.expected})"
        return text

    def __reduce__(self):  # keep the keyword fields through pickling (Dask, Prefect)
        return (_rebuild, (type(self), self.message, self.path, self.line, self.expected))


def _rebuild(cls, message, path, line, expected):  # pragma: no cover - trivial
    return cls(message, path=path, line=line, expected=expected)


class IonexFormatError(DataFormatError):
    """A malformed, truncated or corrupt IONEX file."""


class IndexFormatError(DataFormatError):
    """A malformed geomagnetic/solar index file (GFZ Kp, CelesTrak SW, GFZ JSON)."""


class FetchError(SwxError):
    """A download failed after its retries; says which day, which URL and what to do."""

    def __init__(self, message: str, *, url: str | None = None, day: object | None = None,
                 hint: str | None = None) -> None:
        self.message = message
        self.url = url
        self.day = day
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.day is not None:
            parts.append(f"day {self.day}")
        if self.url:
            parts.append(self.url)
        text = (": ".join([", ".join(parts), self.message]) if parts else self.message)
        if self.hint:
            text += f". {self.hint}"
        return text

    def __reduce__(self):
        return (_rebuild_fetch, (self.message, self.url, self.day, self.hint))


def _rebuild_fetch(message, url, day, hint):  # pragma: no cover - trivial
    return FetchError(message, url=url, day=day, hint=hint)


class NotFoundError(FetchError):
    """The product does not exist (yet) at any mirror: HTTP 404 or no file in the local folder."""


class NoActiveModelError(SwxError, ValueError):
    """No station model is active for what was asked (train first: `swx train`)."""


class InputError(SwxError, ValueError):
    """An argument or setting names something that does not exist or cannot be (an unknown station, a
    period that ends before it starts, a source without its folder)."""


class SettingsError(InputError):
    """A setting (an `SWX_*` variable or `.env` line) that cannot be right: named, with what is expected."""


class InsufficientDataError(SwxError, ValueError):
    """The archive or the database holds too little for what was asked (no maps, too few windows to
    train or score); says what is missing and how to get it."""


class DatabaseFaultError(SwxError):
    """The database failed under a stage (server down, connection dropped, read-only): its one line,
    without the SQL and parameters SQLAlchemy's text quotes (the flows' task records keep this)."""


class DatabaseReadError(DatabaseFaultError):
    """A read function's database failed under it (server down, login refused): the driver's one line
    (`reason_of` of the driver's error, kept as its cause)."""


class SchemaError(SwxError):
    """The database has no swx schema, or not this swx's: `swx db upgrade` migrates it."""
