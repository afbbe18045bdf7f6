"""broadcast warnings: what a CAP alert carried that the service noted but did not refuse

Revision ID: 0009_h12b
Revises: 0008
Create Date: 2026-12-02 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009_h12b'
down_revision = '0008'
branch_labels = None
depends_on = '0006'  # the broadcasts table


def upgrade() -> None:
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('warnings', sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_column('warnings')
