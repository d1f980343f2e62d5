"""verification correlation: the correlation of forecasts and observations next to RMSE, MAE and bias

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:07:02.886462
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('verification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corr', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('verification', schema=None) as batch_op:
        batch_op.drop_column('corr')

