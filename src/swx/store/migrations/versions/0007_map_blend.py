"""the global map's blend: its weights per run, method, latitude band, member and lead; the maps'
cos-latitude weighted RMSE

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 19:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'map_blend_weights',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('lat_band', sa.String(length=8), nullable=False),
        sa.Column('member', sa.String(length=16), nullable=False),
        sa.Column('lead_h', sa.Float(), nullable=False),
        sa.Column('weight', sa.Float(), nullable=False),
        sa.Column('n_days', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['forecast_runs.id'], ondelete='CASCADE',
                                name=op.f('fk_map_blend_weights_run_id_forecast_runs')),
        sa.PrimaryKeyConstraint('run_id', 'method', 'lat_band', 'member', 'lead_h', name=op.f('pk_map_blend_weights')),
    )
    with op.batch_alter_table('verification') as batch:
        batch.add_column(sa.Column('rmse_area', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('verification') as batch:
        batch.drop_column('rmse_area')
    op.drop_table('map_blend_weights')
