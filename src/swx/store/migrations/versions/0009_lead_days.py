"""lead days: a run forecasts the day after its information cutoff (lead day 1, hours 2-24) or the
day after that (lead day 2, hours 26-48); scores are kept per lead day, each beside the baselines at
the same lead

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # what existed before forecast the next day only: lead day 1
    with op.batch_alter_table('forecast_runs') as batch:
        batch.add_column(sa.Column('lead_day', sa.Integer(), server_default='1', nullable=False))
        batch.drop_constraint('uq_forecast_runs_issue_time', type_='unique')
        batch.create_unique_constraint('uq_forecast_runs_issue_time', ['issue_time', 'target_day', 'lead_day'])
    with op.batch_alter_table('verification') as batch:
        batch.add_column(sa.Column('lead_day', sa.Integer(), server_default='1', nullable=False))
        batch.drop_constraint('uq_verification_scope', type_='unique')
        batch.create_unique_constraint('uq_verification_scope', ['scope', 'station_code', 'model', 'window_start',
                                                                 'window_end', 'kp_class', 'lead_day'])


def downgrade() -> None:
    # the second day's runs and scores have no place in the older schema: removed with every row of
    # theirs (SQLite migrates with foreign keys off, so nothing cascades by itself)
    op.execute("DELETE FROM verification WHERE lead_day <> 1")
    for statement in (
            "DELETE FROM run_models WHERE run_id IN (SELECT id FROM forecast_runs WHERE lead_day <> 1)",
            "DELETE FROM run_inputs WHERE run_id IN (SELECT id FROM forecast_runs WHERE lead_day <> 1)",
            "DELETE FROM station_forecasts WHERE run_id IN (SELECT id FROM forecast_runs WHERE lead_day <> 1)",
            "DELETE FROM blend_weights WHERE run_id IN (SELECT id FROM forecast_runs WHERE lead_day <> 1)",
            "DELETE FROM map_blend_weights WHERE run_id IN (SELECT id FROM forecast_runs WHERE lead_day <> 1)",
            "DELETE FROM global_forecasts WHERE run_id IN (SELECT id FROM forecast_runs WHERE lead_day <> 1)",
            "UPDATE verification SET run_id = NULL WHERE run_id IN (SELECT id FROM forecast_runs WHERE lead_day <> 1)"):
        op.execute(statement)
    op.execute("DELETE FROM forecast_runs WHERE lead_day <> 1")
    with op.batch_alter_table('verification') as batch:
        batch.drop_constraint('uq_verification_scope', type_='unique')
        batch.create_unique_constraint('uq_verification_scope', ['scope', 'station_code', 'model', 'window_start',
                                                                 'window_end', 'kp_class'])
        batch.drop_column('lead_day')
    with op.batch_alter_table('forecast_runs') as batch:
        batch.drop_constraint('uq_forecast_runs_issue_time', type_='unique')
        batch.create_unique_constraint('uq_forecast_runs_issue_time', ['issue_time', 'target_day'])
        batch.drop_column('lead_day')
