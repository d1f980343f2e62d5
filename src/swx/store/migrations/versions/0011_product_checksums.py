"""product checksums: the sha256 of each published product file, kept in the database. The `.sha256`
record beside a file proves nothing when both are replaced together (yesterday's product copied under
today's name with a fresh record); the database's copy does. Rows published before this revision have
none and are judged by the record beside the file, as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 22:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('global_forecasts') as batch:
        batch.add_column(sa.Column('product_sha256', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('ionex_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('global_forecasts') as batch:
        batch.drop_column('ionex_sha256')
        batch.drop_column('product_sha256')
