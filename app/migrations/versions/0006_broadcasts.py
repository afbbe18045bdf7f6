"""urgent broadcasts and their idempotency keys

Revision ID: 0006
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broadcasts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('villages', sa.JSON(), nullable=False),
    sa.Column('area_path', sa.String(length=400), nullable=False),
    sa.Column('content_kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('announcement_id', sa.String(length=40), nullable=True),
    sa.Column('media', sa.JSON(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('loop', sa.Integer(), nullable=False),
    sa.Column('start_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=160), nullable=False),
    sa.Column('ended_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=160), nullable=True),
    sa.Column('replaced_by', sa.String(length=40), nullable=True),
    sa.Column('cap_sender', sa.String(length=200), nullable=True),
    sa.Column('cap_identifier', sa.String(length=200), nullable=True),
    sa.Column('cap_sent', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cap_msg_type', sa.String(length=10), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts')),
    sa.UniqueConstraint('cap_sender', 'cap_identifier', 'cap_sent', name='uq_broadcasts_cap')
    )
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcasts_area_path'), ['area_path'], unique=False)
        batch_op.create_index('ix_broadcasts_status_expires', ['status', 'expires_at'], unique=False)

    op.create_table('broadcast_idempotency_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('principal', sa.String(length=160), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('broadcast_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], name=op.f('fk_broadcast_idempotency_keys_broadcast_id_broadcasts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_idempotency_keys')),
    sa.UniqueConstraint('principal', 'key', name='uq_broadcast_idempotency_keys_principal')
    )
    with op.batch_alter_table('broadcast_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcast_idempotency_keys_created_at'), ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('broadcast_idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcast_idempotency_keys_created_at'))

    op.drop_table('broadcast_idempotency_keys')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_index('ix_broadcasts_status_expires')
        batch_op.drop_index(batch_op.f('ix_broadcasts_area_path'))

    op.drop_table('broadcasts')
