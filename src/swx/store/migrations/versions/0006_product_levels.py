"""product levels: which product (predicted < rapid < final) each archived day, run input, forecast run
and verification row came from (issue 19)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

#: the rapid and predicted product codes when this revision was written (swx.io.gim_names may grow)
_RAPID = ("cor", "igr", "jpr", "esr", "upr", "uqr")
_PREDICTED = ("c1p", "c2p")


def upgrade() -> None:
    with op.batch_alter_table('input_files') as batch:
        batch.add_column(sa.Column('product', sa.String(length=16), server_default='', nullable=False))
        batch.add_column(sa.Column('level', sa.String(length=16), server_default='final', nullable=False))
    with op.batch_alter_table('forecast_runs') as batch:
        batch.add_column(sa.Column('input_level', sa.String(length=16), server_default='', nullable=False))
    with op.batch_alter_table('run_inputs') as batch:
        batch.add_column(sa.Column('level', sa.String(length=16), server_default='', nullable=False))
    with op.batch_alter_table('verification') as batch:
        batch.add_column(sa.Column('truth_level', sa.String(length=16), server_default='', nullable=False))
    # files archived before: each day held its centre's own product
    files = sa.table('input_files', sa.column('centre', sa.String), sa.column('product', sa.String),
                     sa.column('level', sa.String))
    op.execute(files.update().values(product=files.c.centre))
    op.execute(files.update().where(files.c.centre.in_(_RAPID)).values(level='rapid'))
    op.execute(files.update().where(files.c.centre.in_(_PREDICTED)).values(level='predicted'))


def downgrade() -> None:
    with op.batch_alter_table('verification') as batch:
        batch.drop_column('truth_level')
    with op.batch_alter_table('run_inputs') as batch:
        batch.drop_column('level')
    with op.batch_alter_table('forecast_runs') as batch:
        batch.drop_column('input_level')
    with op.batch_alter_table('input_files') as batch:
        batch.drop_column('level')
        batch.drop_column('product')
