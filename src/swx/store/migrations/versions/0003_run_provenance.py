"""run provenance: the model versions and input files (with checksums) of each forecast run; indexes
for the dashboard's time-range reads of ΔTEC and verification

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'run_models',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('model_version_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['forecast_runs.id'], ondelete='CASCADE',
                                name=op.f('fk_run_models_run_id_forecast_runs')),
        sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], ondelete='CASCADE',
                                name=op.f('fk_run_models_model_version_id_model_versions')),
        sa.PrimaryKeyConstraint('run_id', 'model_version_id', name=op.f('pk_run_models')),
    )
    op.create_table(
        'run_inputs',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('day', sa.Date(), nullable=True),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['forecast_runs.id'], ondelete='CASCADE',
                                name=op.f('fk_run_inputs_run_id_forecast_runs')),
        sa.PrimaryKeyConstraint('run_id', 'kind', 'name', name=op.f('pk_run_inputs')),
    )
    op.create_index('ix_dtec_kind_time', 'dtec', ['kind', 'time'])
    op.create_index('ix_verification_window_start', 'verification', ['window_start'])


def downgrade() -> None:
    op.drop_index('ix_verification_window_start', table_name='verification')
    op.drop_index('ix_dtec_kind_time', table_name='dtec')
    op.drop_table('run_inputs')
    op.drop_table('run_models')
