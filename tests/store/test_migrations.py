"""Migrations and models agree; upgrade -> downgrade -> upgrade works; on both dialects."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from swx.store.db import current_revision, downgrade, make_engine, upgrade
from swx.store.orm import Base


def test_autogenerate_finds_no_difference(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_upgrade_downgrade_upgrade(db_url):
    url, schema = db_url
    e = make_engine(url, schema=schema)
    upgrade(e, "0001")
    assert current_revision(e) == "0001"
    assert "corr" not in {c["name"] for c in inspect(e).get_columns("verification")}
    upgrade(e, "0002")
    assert current_revision(e) == "0002"
    assert "corr" in {c["name"] for c in inspect(e).get_columns("verification")}
    assert "run_inputs" not in inspect(e).get_table_names()
    upgrade(e, "0003")
    assert current_revision(e) == "0003"
    assert {"run_inputs", "run_models"} <= set(inspect(e).get_table_names())
    assert "blend_weights" not in inspect(e).get_table_names()
    upgrade(e, "0004")
    assert current_revision(e) == "0004"
    assert "blend_weights" in inspect(e).get_table_names()
    assert "crps" not in {c["name"] for c in inspect(e).get_columns("verification")}
    upgrade(e, "0005")
    assert current_revision(e) == "0005"
    assert {"crps", "pit_hist"} <= {c["name"] for c in inspect(e).get_columns("verification")}
    assert "truth_level" not in {c["name"] for c in inspect(e).get_columns("verification")}
    upgrade(e, "0006")
    assert current_revision(e) == "0006"
    assert {"product", "level"} <= {c["name"] for c in inspect(e).get_columns("input_files")}
    assert "truth_level" in {c["name"] for c in inspect(e).get_columns("verification")}
    assert "map_blend_weights" not in inspect(e).get_table_names()
    upgrade(e, "0007")
    assert current_revision(e) == "0007"
    assert "map_blend_weights" in inspect(e).get_table_names()
    assert "rmse_area" in {c["name"] for c in inspect(e).get_columns("verification")}
    assert "data_source" not in {c["name"] for c in inspect(e).get_columns("model_versions")}
    upgrade(e)
    assert current_revision(e) == "0008"
    assert "data_source" in {c["name"] for c in inspect(e).get_columns("model_versions")}
    tables = set(inspect(e).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    downgrade(e, "base")
    assert current_revision(e) is None
    assert set(inspect(e).get_table_names()) <= {"alembic_version"}
    upgrade(e)
    assert current_revision(e) == "0008"
    e.dispose()
