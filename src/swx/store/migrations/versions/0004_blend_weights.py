"""blend weights: per run, station, member and lead, the weights of the published blend

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'blend_weights',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('member', sa.String(length=16), nullable=False),
        sa.Column('lead_h', sa.Float(), nullable=False),
        sa.Column('weight', sa.Float(), nullable=False),
        sa.Column('n_samples', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['forecast_runs.id'], ondelete='CASCADE',
                                name=op.f('fk_blend_weights_run_id_forecast_runs')),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], ondelete='CASCADE',
                                name=op.f('fk_blend_weights_station_id_stations')),
        sa.PrimaryKeyConstraint('run_id', 'station_id', 'member', 'lead_h', name=op.f('pk_blend_weights')),
    )


def downgrade() -> None:
    op.drop_table('blend_weights')
