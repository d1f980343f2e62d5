"""Engines and migrations: SQLite (embedded default, WAL) or PostgreSQL (operations)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from swx.errors import DatabaseReadError, InputError, SchemaError, reason_of
from swx.io.atomic import make_folder

log = logging.getLogger(__name__)
_CHECKED: set[str] = set()  # URLs found at the head revision in this process


def make_engine(url: str, *, schema: str | None = None, **kwargs) -> Engine:
    """An engine for `url`. SQLite files get WAL, foreign keys and a busy timeout; `schema` sets the
    PostgreSQL search_path (used by the tests to give each test its own schema)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":  # its folder is made by `upgrade` only: reading never creates
        if (path := sqlite_file(u)) is not None and not str(u.database).startswith("file:") and path.exists() \
                and not path.is_file():
            kind = "a folder" if path.is_dir() else "not a regular file"
            raise InputError(f"the SQLite database {path} is {kind} (expected the database file, or no file "
                             "at all for `swx db upgrade` to create; move it away or set SWX_DATABASE_URL)")
        if (frozen := _on_read_only_disk(u)) is not None:
            # SQLite cannot make its WAL index beside the file: opened immutable, it is read as it is
            # (status, the dashboard) and every write is refused as "attempt to write a readonly database"
            kwargs["creator"] = lambda: sqlite3.connect(f"file:{urllib.parse.quote(str(frozen))}?immutable=1",
                                                        uri=True, timeout=30)
        engine = create_engine(u, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # (an immutable file keeps its mode: no error)
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if u.get_backend_name() == "postgresql":
        connect_args = dict(kwargs.pop("connect_args", {}))
        if schema:
            connect_args["options"] = f"-csearch_path={schema}"
        return create_engine(u, connect_args=connect_args, pool_pre_ping=True, **kwargs)
    return create_engine(u, **kwargs)


def read_only_filesystem(folder: str | Path) -> bool:
    """True when `folder` lies on a file system mounted read-only (nobody can change what is there);
    a folder this user merely may not write is not one."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _on_read_only_disk(url: URL) -> Path | None:
    """The SQLite file when it lies on a read-only file system and has no write-ahead log waiting (which
    an immutable reader would ignore); else None. Only there may it be opened immutable: a file another
    process can still change would be read stale or as corrupt."""
    path = sqlite_file(url)
    if path is None or str(url.database).startswith("file:"):
        return None
    wal = path.with_name(path.name + "-wal")
    if not path.is_file() or not read_only_filesystem(path.parent) or (wal.is_file() and wal.stat().st_size):
        return None
    return path.resolve()


def _scripts_config() -> Config:
    """Alembic configured in code (no alembic.ini): the scripts ship inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("swx.store") / "migrations"))
    return cfg


def alembic_config(engine: Engine) -> Config:
    """The Alembic configuration that migrates `engine`."""
    cfg = _scripts_config()
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _check_revision(engine: Engine, revision: str) -> None:
    """Refuse a revision the migrations do not know before the database is touched (head, base and
    relative steps like -1 are alembic's own)."""
    if revision in ("head", "heads", "base") or re.fullmatch(r"[+-]\d+", revision):
        return
    script = ScriptDirectory.from_config(alembic_config(engine))
    try:
        found = script.get_revisions(revision) if revision.strip() else ()
    except Exception:  # noqa: BLE001 - alembic's resolver raises its errors and bare assertions alike
        found = ()
    if not found:
        known = [r.revision for r in script.walk_revisions()]
        raise InputError(f"revision {revision[:40]!r}: not a migration of this swx (expected head, base, -1 or one "
                         f"of {', '.join(reversed(known))})")


@contextlib.contextmanager
def _migrating(engine: Engine) -> Iterator[Config]:
    """The Alembic configuration that runs a migration of `engine`. On an SQLite file, one whose every
    transaction is `BEGIN IMMEDIATE` with the driver's own transaction handling off: the whole upgrade,
    DDL included, is one transaction that holds the write lock from its start. A killed upgrade then leaves the database as
    it was (never tables without a revision), and a second upgrade started meanwhile waits, then finds
    the database at its revision. (pysqlite commits before DDL unless told so: SQLAlchemy's recipe.)"""
    if sqlite_file(engine.url) is None:  # PostgreSQL runs DDL in its transaction already
        yield alembic_config(engine)
        return
    migrating = make_engine(engine.url.render_as_string(hide_password=False), poolclass=NullPool)

    @event.listens_for(migrating, "connect")
    def _no_driver_transactions(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None
        # SQLite alters a table by copying it and dropping the old one: with foreign keys on, that drop
        # cascaded into every row that referenced it (0008 -> 0009 emptied the published forecasts).
        # Off while migrating (the pragma only takes effect outside a transaction: here, at connect);
        # the references are checked before the migration commits.
        dbapi_conn.execute("PRAGMA foreign_keys=OFF")

    @event.listens_for(migrating, "commit")
    def _references_hold(conn) -> None:
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise SchemaError(f"the migration would leave {len(broken)} row(s) referring to rows that are gone (e.g. "
                              f"table {broken[0][0]} -> {broken[0][2]}): nothing was changed")

    @event.listens_for(migrating, "begin")
    def _begin_immediate(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    cfg = alembic_config(migrating)
    cfg.attributes["transactional_ddl"] = True  # alembic's SQLite default is False: a commit per step
    try:
        yield cfg
    finally:
        migrating.dispose()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create (an SQLite file: with its folder) or migrate the database to `revision`."""
    _check_revision(engine, revision)
    _CHECKED.discard(_key(engine))
    if (missing := missing_sqlite_file(engine)) is not None:
        make_folder(missing.parent)
    else:
        at = current_revision(engine)
        _check_known(engine, at)
        if at is None and (held := _unrevisioned_tables(engine)):
            raise SchemaError(f"the database {engine.url.render_as_string(hide_password=True)} "
                              f"{_describe_unrevisioned(held)}")
        if at is not None and revision not in ("head", "heads") and not re.fullmatch(r"[+-]\d+", revision) \
                and revision != at:
            script = ScriptDirectory.from_config(alembic_config(engine))
            below = {r.revision for r in script.iterate_revisions(at, "base")} - {at}
            if revision in below:  # alembic would do nothing and say nothing
                raise InputError(f"revision {revision}: the database is at {at}, newer; `swx db downgrade "
                                 f"{revision}` goes back (keep a backup: it drops what later revisions added)")
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _check_revision(engine, revision)
    _CHECKED.discard(_key(engine))
    _check_known(engine, current_revision(engine))
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step, revision: str) -> None:
    """Run alembic's `step` (upgrade or downgrade) to `revision`; a relative step past the first or
    the last migration is an InputError naming where the database is, not alembic's traceback."""
    from alembic.util.exc import CommandError

    try:
        with _migrating(engine) as cfg:
            step(cfg, revision)
    except CommandError as exc:
        known = [r.revision for r in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()]
        at = current_revision(engine) or "no revision"
        raise InputError(f"revision {revision[:40]!r}: {exc} (the database is at {at}; migrations "
                         f"{known[-1]}..{known[0]})") from None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _unrevisioned_tables(engine: Engine) -> list[str]:
    """The tables of a database without a migration revision (another application's, or swx's whose
    revision record was dropped); empty for an empty database."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        return sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})


def _describe_unrevisioned(tables: list[str]) -> str:
    """What a database without a revision holds, and what to do, for a one-line refusal."""
    from swx.store.orm import Base

    shown = ", ".join(tables[:4]) + (f" and {len(tables) - 4} more" if len(tables) > 4 else "")
    if set(tables) & set(Base.metadata.tables):
        return (f"holds swx tables ({shown}) but no record of their migration revision (its alembic_version "
                "table is gone): restore it from a backup; swx neither migrates nor reads it")
    return (f"holds {len(tables)} table(s) of another application ({shown}) and no swx tables: swx creates its "
            "tables only in an empty database or its own; point SWX_DATABASE_URL at one")


def describe_revision(engine: Engine) -> str:
    """Where the database stands, for a person: its revision, or that it is empty or not swx's."""
    if (at := current_revision(engine)) is not None:
        _check_known(engine, at)  # a newer swx's, or another application's: said as such
        return f"at revision {at}" + ("" if at == head_revision() else f" (this swx needs {head_revision()}: "
                                                                          "`swx db upgrade`)")
    if held := _unrevisioned_tables(engine):
        return _describe_unrevisioned(held)
    return "empty: no swx tables yet (`swx db upgrade` creates them)"


def engine_from_settings(settings) -> Engine:
    """The configured database: SWX_DATABASE_URL, or the embedded SQLite file under the data dir."""
    return make_engine(settings.resolved_database_url)


@lru_cache(maxsize=1)
def known_revisions() -> tuple[str, ...]:
    """The migrations shipped with this swx, oldest first (the last is the head)."""
    return tuple(reversed([s.revision for s in ScriptDirectory.from_config(_scripts_config()).walk_revisions()]))


def head_revision() -> str:
    """The newest migration shipped with this swx."""
    return known_revisions()[-1]


def sqlite_file(url: str | URL) -> Path | None:
    """The file an SQLite URL names (existing or not), else None (another database, or in memory)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    return Path(u.database)


def missing_sqlite_file(engine: Engine) -> Path | None:
    """The path of an SQLite database file that does not exist yet (connecting would create it), else None."""
    path = sqlite_file(engine.url)
    return path if path is not None and not path.is_file() else None


def _check_known(engine: Engine, current: str | None) -> None:
    """Refuse a database stamped with a revision this swx's migrations do not know (a newer swx
    migrated it): neither reading nor migrating it can be right."""
    if current is not None and current not in known_revisions() and not re.fullmatch(r"\d{4}", current):
        raise SchemaError(f"the database {engine.url.render_as_string(hide_password=True)} is at revision "
                          f"{current[:40]!r}, which no swx has (swx's revisions are numbered 0001, 0002, ...): "
                          "another application's migrations; swx neither migrates nor reads it (point "
                          "SWX_DATABASE_URL at swx's own database)")
    if current is not None and current not in known_revisions():
        raise SchemaError(f"the database {engine.url.render_as_string(hide_password=True)} is at revision {current}, "
                          f"newer than this swx (which knows up to {head_revision()}): run the swx that migrated it, "
                          "or upgrade this one")


def check_schema(engine: Engine) -> None:
    """Raise SchemaError, naming `swx db upgrade`, unless the database is at this swx's revision. A
    missing SQLite file is not created."""
    if _key(engine) in _CHECKED:
        return
    shown = engine.url.render_as_string(hide_password=True)
    if (missing := missing_sqlite_file(engine)) is not None:
        raise SchemaError(f"no database at {missing}: run `swx db upgrade` to create it (the main job does)")
    current, head = current_revision(engine), head_revision()
    _check_known(engine, current)
    if current is None and (held := _unrevisioned_tables(engine)):
        raise SchemaError(f"the database {shown} {_describe_unrevisioned(held)}")
    if current != head:
        what = "has no swx tables" if current is None else f"is at revision {current}, this swx needs {head}"
        raise SchemaError(f"the database {shown} {what}: run `swx db upgrade`")
    _CHECKED.add(_key(engine))


def open_database(settings) -> Engine:
    """The configured database, checked to be at this swx's schema (it is never migrated behind the
    user's back: `swx db upgrade`, the main job and `migrated_database` do that)."""
    engine = engine_from_settings(settings)
    check_schema(engine)
    return engine


def migrated_database(settings) -> Engine:
    """The configured database, created or migrated to the newest revision (`swx db upgrade`, the main
    job, a deployment's `migrate` step)."""
    engine = engine_from_settings(settings)
    upgrade(engine)
    _CHECKED.add(_key(engine))
    return engine


#: A PostgreSQL name as `CREATE ROLE name` stores it unquoted (folded to lower case): what
#: `grant_read_only` accepts for a role or schema (anything else is refused before any SQL is built).
_SQL_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def grant_read_only(engine: Engine, role: str, schema: str = "public") -> None:
    """Give an existing PostgreSQL role read access to the swx tables (the dashboard's role), now and
    for tables created later by the migrations' owner. The names are checked and quoted by the driver
    (`psycopg.sql.Identifier`): they come from the command line and the image's environment."""
    if engine.dialect.name != "postgresql":
        raise InputError("read-only roles are a PostgreSQL feature; SQLite files are protected by file permissions")
    for what, name in (("role", role), ("schema", schema)):
        if not _SQL_NAME.fullmatch(name):
            raise InputError(f"{what} name {name!r} refused: expected lower-case letters, digits and underscores, "
                             "not starting with a digit, at most 63 characters (as PostgreSQL stores unquoted names)")
    from psycopg import sql

    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is None:
            raise InputError(f"role {role!r} does not exist: create it first (CREATE ROLE {role} LOGIN PASSWORD ...)")
        if conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first() is None:
            raise InputError(f"schema {schema!r} does not exist in this database")
        # a role that can write anyway is no read-only role, whatever it is granted
        if conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar():
            raise InputError(f"role {role!r} is a superuser: it can write every table whatever it is granted; give "
                             "the dashboard an ordinary role (CREATE ROLE ... LOGIN NOSUPERUSER)")
        writes = conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s "
            "AND c.relkind = 'r' AND (pg_has_role(:r, c.relowner, 'USAGE') OR has_table_privilege(:r, c.oid, "
            "'INSERT, UPDATE, DELETE, TRUNCATE')) ORDER BY 1 LIMIT 3"), {"s": schema, "r": role}).scalars().all()
        if writes:
            raise InputError(f"role {role!r} owns or can write tables of schema {schema!r} ({', '.join(writes)}): not a "
                             "read-only role; give the dashboard a role of its own")
        ident = {"role": sql.Identifier(role), "schema": sql.Identifier(schema)}
        with conn.connection.driver_connection.cursor() as cur:
            for stmt in ("GRANT USAGE ON SCHEMA {schema} TO {role}",
                         "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
                         "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}"):
                cur.execute(sql.SQL(stmt).format(**ident))


def database_error_line(exc: BaseException) -> str | None:
    """One line for a database fault a user meets (server down, refused login, read-only database): the
    driver's own first line — not SQLAlchemy's, which quotes the statement and its parameters. None
    when `exc` is not a database error."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DatabaseReadError) and isinstance(exc.__cause__, DBAPIError):  # a read function's
        exc = exc.__cause__
    return reason_of(exc) if isinstance(exc, DBAPIError) else None
