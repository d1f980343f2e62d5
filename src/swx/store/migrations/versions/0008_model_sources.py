"""model sources: the centre (or imported series) whose data each model version learnt from, so a run
forecasting from another centre's maps can say its models were not trained on them

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # versions trained before keep "": not recorded (a run names them as of an unknown source)
    with op.batch_alter_table('model_versions') as batch:
        batch.add_column(sa.Column('data_source', sa.String(length=32), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('model_versions') as batch:
        batch.drop_column('data_source')
