"""issue day: the daily run a forecast belongs to (the day whose maps it should have had). The next
day's forecast from late maps and tomorrow's forecast made a day earlier hold the same information
(one row), so the lead day alone cannot tell which of a day's runs is its next-day product

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 13:00:00
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('forecast_runs', sa.Column('issue_day', sa.Date(), nullable=True))
    # every run before this forecast the day after its issue day (late maps carried forward)
    runs = sa.table('forecast_runs', sa.column('id', sa.Integer()), sa.column('target_day', sa.Date()),
                    sa.column('issue_day', sa.Date()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(runs.c.id, runs.c.target_day)).all()
    for run_id, target in rows:
        conn.execute(runs.update().where(runs.c.id == run_id).values(issue_day=target - dt.timedelta(days=1)))


def downgrade() -> None:
    with op.batch_alter_table('forecast_runs') as batch:
        batch.drop_column('issue_day')
