"""speakers, heartbeat history and play receipts

Revision ID: 0005
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "speakers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("village_code", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("maintenance", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_prefix", sa.String(length=12), nullable=True),
        sa.Column("token_issued_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_heard_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_reported_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=8), nullable=True),
        sa.Column("last_power", sa.String(length=8), nullable=True),
        sa.Column("last_fault", sa.String(length=200), nullable=True),
        sa.Column("last_volume", sa.Integer(), nullable=True),
        sa.Column("last_playing", sa.String(length=64), nullable=True),
        sa.Column("health", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["areas.code"],
            name=op.f("fk_speakers_village_code_areas"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speakers")),
        sa.UniqueConstraint("serial", name=op.f("uq_speakers_serial")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_speakers_token_hash")),
    )
    with op.batch_alter_table("speakers", schema=None) as batch_op:
        batch_op.create_index("ix_speakers_health_heard", ["health", "last_heard_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_speakers_village_code"), ["village_code"], unique=False
        )

    op.create_table(
        "play_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("speaker_id", sa.String(length=40), nullable=False),
        sa.Column("village_code", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=12), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["play_orders.id"],
            name=op.f("fk_play_receipts_order_id_play_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["speaker_id"],
            ["speakers.id"],
            name=op.f("fk_play_receipts_speaker_id_speakers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_play_receipts")),
        sa.UniqueConstraint(
            "order_id", "speaker_id", "event", name="uq_play_receipts_order_speaker_event"
        ),
    )
    with op.batch_alter_table("play_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_play_receipts_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_play_receipts_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index("ix_play_receipts_speaker_at", ["speaker_id", "at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_play_receipts_village_code"), ["village_code"], unique=False
        )

    op.create_table(
        "speaker_heartbeats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("speaker_id", sa.String(length=40), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("power", sa.String(length=8), nullable=False),
        sa.Column("fault", sa.String(length=200), nullable=True),
        sa.Column("volume", sa.Integer(), nullable=True),
        sa.Column("playing", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["speaker_id"],
            ["speakers.id"],
            name=op.f("fk_speaker_heartbeats_speaker_id_speakers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speaker_heartbeats")),
    )
    with op.batch_alter_table("speaker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_speaker_heartbeats_at"), ["at"], unique=False)
        batch_op.create_index(
            "ix_speaker_heartbeats_speaker_at", ["speaker_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("speaker_heartbeats", schema=None) as batch_op:
        batch_op.drop_index("ix_speaker_heartbeats_speaker_at")
        batch_op.drop_index(batch_op.f("ix_speaker_heartbeats_at"))

    op.drop_table("speaker_heartbeats")
    with op.batch_alter_table("play_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_play_receipts_village_code"))
        batch_op.drop_index("ix_play_receipts_speaker_at")
        batch_op.drop_index(batch_op.f("ix_play_receipts_received_at"))
        batch_op.drop_index(batch_op.f("ix_play_receipts_order_id"))

    op.drop_table("play_receipts")
    with op.batch_alter_table("speakers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_speakers_village_code"))
        batch_op.drop_index("ix_speakers_health_heard")

    op.drop_table("speakers")
