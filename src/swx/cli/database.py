"""Commands for the results database: migrations and the dashboard's read-only role."""

from __future__ import annotations

from typing import Annotated

import typer

from swx.cli.app import db_app, out
from swx.config import get_settings


@db_app.command("upgrade")
def db_upgrade_cmd(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the database of SWX_DATABASE_URL (default: the embedded SQLite file)."""
    from swx.pipeline.database import upgrade_database

    out.print(upgrade_database(get_settings(), revision), markup=False, highlight=False)


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})  # `-1` is a revision
def db_downgrade_cmd(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1.")]) -> None:
    """Migrate the database down (keep a backup: a downgrade drops what newer revisions added)."""
    from swx.pipeline.database import downgrade_database

    out.print(downgrade_database(get_settings(), revision), markup=False, highlight=False)


@db_app.command("current")
def db_current_cmd() -> None:
    """Show the database's migration revision."""
    from swx.pipeline.database import database_revision

    out.print(database_revision(get_settings()), markup=False, highlight=False)


@db_app.command("grant-read-only")
def db_grant_cmd(role: Annotated[str, typer.Argument(help="An existing PostgreSQL role (the dashboard's).")],
                 schema: Annotated[str, typer.Option(help="Schema of the swx tables.")] = "public") -> None:
    """Let a PostgreSQL role read (only read) the swx tables."""
    from swx.pipeline.database import grant_read_only_role

    out.print(grant_read_only_role(get_settings(), role, schema), markup=False, highlight=False)
