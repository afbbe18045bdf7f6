"""announcements, revisions, render jobs, media files and playlists

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 02:36:23.194336
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media_files',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=True),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('loudness_lufs', sa.Float(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_media_files')),
    sa.UniqueConstraint('label', name=op.f('uq_media_files_label'))
    )
    op.create_table('announcements',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('area_code', sa.String(length=64), nullable=False),
    sa.Column('current_revision', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_announcements_area_code_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcements'))
    )
    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcements_area_code'), ['area_code'], unique=False)

    op.create_table('playlists',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('area_code', sa.String(length=64), nullable=False),
    sa.Column('chime', sa.String(length=20), nullable=True),
    sa.Column('gap_ms', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_playlists_area_code_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playlists'))
    )
    with op.batch_alter_table('playlists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playlists_area_code'), ['area_code'], unique=False)

    op.create_table('announcement_revisions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('announcement_id', sa.String(length=40), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=True),
    sa.Column('recording_sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.String(length=40), nullable=False),
    sa.Column('author', sa.String(length=120), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=120), nullable=True),
    sa.Column('submitted_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=120), nullable=True),
    sa.Column('reviewed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('audio_status', sa.String(length=10), nullable=True),
    sa.Column('audio_sha256', sa.String(length=64), nullable=True),
    sa.Column('audio_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcements.id'], name=op.f('fk_announcement_revisions_announcement_id_announcements'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['audio_sha256'], ['media_files.sha256'], name=op.f('fk_announcement_revisions_audio_sha256_media_files'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recording_sha256'], ['media_files.sha256'], name=op.f('fk_announcement_revisions_recording_sha256_media_files'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcement_revisions')),
    sa.UniqueConstraint('announcement_id', 'number', name='uq_announcement_revisions_number')
    )
    with op.batch_alter_table('announcement_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcement_revisions_announcement_id'), ['announcement_id'], unique=False)

    op.create_table('playlist_items',
    sa.Column('playlist_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('announcement_id', sa.String(length=40), nullable=True),
    sa.Column('media_sha256', sa.String(length=64), nullable=True),
    sa.Column('silence_ms', sa.Integer(), nullable=True),
    sa.CheckConstraint('(CASE WHEN announcement_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN media_sha256 IS NULL THEN 0 ELSE 1 END) + (CASE WHEN silence_ms IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_playlist_items_one_kind')),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcements.id'], name=op.f('fk_playlist_items_announcement_id_announcements'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['media_sha256'], ['media_files.sha256'], name=op.f('fk_playlist_items_media_sha256_media_files'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['playlist_id'], ['playlists.id'], name=op.f('fk_playlist_items_playlist_id_playlists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('playlist_id', 'position', name=op.f('pk_playlist_items'))
    )
    with op.batch_alter_table('playlist_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playlist_items_announcement_id'), ['announcement_id'], unique=False)

    op.create_table('render_jobs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('revision_id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('lease_until', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['revision_id'], ['announcement_revisions.id'], name=op.f('fk_render_jobs_revision_id_announcement_revisions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_render_jobs'))
    )
    with op.batch_alter_table('render_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_render_jobs_revision_id'), ['revision_id'], unique=False)
        batch_op.create_index('ix_render_jobs_state_created', ['state', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('render_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_render_jobs_state_created')
        batch_op.drop_index(batch_op.f('ix_render_jobs_revision_id'))

    op.drop_table('render_jobs')
    with op.batch_alter_table('playlist_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playlist_items_announcement_id'))

    op.drop_table('playlist_items')
    with op.batch_alter_table('announcement_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announcement_revisions_announcement_id'))

    op.drop_table('announcement_revisions')
    with op.batch_alter_table('playlists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playlists_area_code'))

    op.drop_table('playlists')
    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announcements_area_code'))

    op.drop_table('announcements')
    op.drop_table('media_files')
