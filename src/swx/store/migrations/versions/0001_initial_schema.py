"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 12:19:19.399487
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import swx.store.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daily_indices',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('ap_daily', sa.Float(), nullable=True),
    sa.Column('sn', sa.Float(), nullable=True),
    sa.Column('f107_obs', sa.Float(), nullable=True),
    sa.Column('f107_adj', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_daily_indices'))
    )
    op.create_table('forecast_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_time', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('target_day', sa.Date(), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=False),
    sa.Column('code_version', sa.String(length=64), nullable=False),
    sa.Column('settings_hash', sa.String(length=64), nullable=False),
    sa.Column('data_source', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('degraded', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', swx.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('running', 'ok', 'degraded', 'failed')", name=op.f('ck_forecast_runs_status_values')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_runs')),
    sa.UniqueConstraint('issue_time', 'target_day', name=op.f('uq_forecast_runs_issue_time'))
    )
    op.create_table('input_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('centre', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('maps', sa.Integer(), nullable=False),
    sa.Column('source_kind', sa.String(length=16), nullable=False),
    sa.Column('ingested_at', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_input_files')),
    sa.UniqueConstraint('kind', 'centre', 'day', name=op.f('uq_input_files_kind'))
    )
    op.create_table('kp_values',
    sa.Column('time', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kp', sa.Float(), nullable=False),
    sa.Column('ap', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('time', name=op.f('pk_kp_values'))
    )
    op.create_table('stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('sector', sa.String(length=32), nullable=False),
    sa.Column('lat_band', sa.String(length=8), nullable=False),
    sa.Column('surface', sa.String(length=8), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.CheckConstraint("lat_band IN ('low', 'mid', 'high')", name=op.f('ck_stations_lat_band_values')),
    sa.CheckConstraint("surface IN ('land', 'ocean')", name=op.f('ck_stations_surface_values')),
    sa.CheckConstraint('lat >= -90 AND lat <= 90', name=op.f('ck_stations_lat_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations')),
    sa.UniqueConstraint('code', name=op.f('uq_stations_code'))
    )
    op.create_table('storm_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('start', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('max_kp', sa.Float(), nullable=False),
    sa.Column('g_class', sa.Integer(), nullable=False),
    sa.Column('peak_pos_dtec', sa.Float(), nullable=True),
    sa.Column('peak_pos_time', swx.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('peak_neg_dtec', sa.Float(), nullable=True),
    sa.Column('peak_neg_time', swx.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storm_events')),
    sa.UniqueConstraint('start', name=op.f('uq_storm_events_start'))
    )
    op.create_table('dtec',
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('time', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('dtec', sa.Float(), nullable=False),
    sa.Column('dtec_rel', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_dtec_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('station_id', 'time', 'kind', 'reference', name=op.f('pk_dtec'))
    )
    op.create_table('global_forecasts',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('valid_time', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('product_path', sa.Text(), nullable=False),
    sa.Column('ionex_path', sa.Text(), nullable=False),
    sa.Column('global_rmse', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['forecast_runs.id'], name=op.f('fk_global_forecasts_run_id_forecast_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'valid_time', 'method', name=op.f('pk_global_forecasts'))
    )
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('architecture', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('hyperparameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('train_start', swx.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('train_end', swx.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('val_rmse', sa.Float(), nullable=True),
    sa.Column('checkpoint_path', sa.Text(), nullable=False),
    sa.Column('checkpoint_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('candidate', 'active', 'rejected', 'retired')", name=op.f('ck_model_versions_status_values')),
    sa.ForeignKeyConstraint(['parent_id'], ['model_versions.id'], name=op.f('fk_model_versions_parent_id_model_versions')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_model_versions_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('station_id', 'architecture', 'version', name=op.f('uq_model_versions_station_id'))
    )
    op.create_table('observations',
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('time', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('centre', sa.String(length=16), nullable=False),
    sa.Column('vtec', sa.Float(), nullable=False),
    sa.Column('input_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['input_file_id'], ['input_files.id'], name=op.f('fk_observations_input_file_id_input_files'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('station_id', 'time', 'centre', name=op.f('pk_observations')),
    sqlite_with_rowid=False
    )
    op.create_table('station_forecasts',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('architecture', sa.String(length=16), nullable=False),
    sa.Column('valid_time', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lead_h', sa.Float(), nullable=False),
    sa.Column('mean', sa.Float(), nullable=False),
    sa.Column('sigma', sa.Float(), nullable=True),
    sa.Column('q025', sa.Float(), nullable=True),
    sa.Column('q16', sa.Float(), nullable=True),
    sa.Column('q84', sa.Float(), nullable=True),
    sa.Column('q975', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['forecast_runs.id'], name=op.f('fk_station_forecasts_run_id_forecast_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_station_forecasts_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'station_id', 'architecture', 'valid_time', name=op.f('pk_station_forecasts'))
    )
    with op.batch_alter_table('station_forecasts', schema=None) as batch_op:
        batch_op.create_index('ix_station_forecasts_station_valid', ['station_id', 'valid_time'], unique=False)

    op.create_table('verification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('station_code', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('window_start', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', swx.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kp_class', sa.String(length=8), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('rmse', sa.Float(), nullable=False),
    sa.Column('mae', sa.Float(), nullable=False),
    sa.Column('bias', sa.Float(), nullable=False),
    sa.Column('skill_persistence', sa.Float(), nullable=True),
    sa.Column('skill_median27', sa.Float(), nullable=True),
    sa.Column('coverage68', sa.Float(), nullable=True),
    sa.Column('coverage95', sa.Float(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['forecast_runs.id'], name=op.f('fk_verification_run_id_forecast_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification')),
    sa.UniqueConstraint('scope', 'station_code', 'model', 'window_start', 'window_end', 'kp_class', name=op.f('uq_verification_scope'))
    )


def downgrade() -> None:
    op.drop_table('verification')
    with op.batch_alter_table('station_forecasts', schema=None) as batch_op:
        batch_op.drop_index('ix_station_forecasts_station_valid')

    op.drop_table('station_forecasts')
    op.drop_table('observations')
    op.drop_table('model_versions')
    op.drop_table('global_forecasts')
    op.drop_table('dtec')
    op.drop_table('storm_events')
    op.drop_table('stations')
    op.drop_table('kp_values')
    op.drop_table('input_files')
    op.drop_table('forecast_runs')
    op.drop_table('daily_indices')
