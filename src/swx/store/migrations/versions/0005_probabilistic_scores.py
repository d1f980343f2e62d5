"""probabilistic scores: the CRPS and the PIT histogram of forecasts with a sigma

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 11:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('verification') as batch:
        batch.add_column(sa.Column('crps', sa.Float(), nullable=True))
        json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
        batch.add_column(sa.Column('pit_hist', json_type, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('verification') as batch:
        batch.drop_column('pit_hist')
        batch.drop_column('crps')
