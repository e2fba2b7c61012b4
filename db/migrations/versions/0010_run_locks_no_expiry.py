"""run_locks: drop expires_at (locks are advisory locks / flock that die with their holder;
the row only names the holder, so a lease's end means nothing)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 01:35:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run_locks', schema=None) as batch_op:
        batch_op.drop_column('expires_at')


def downgrade() -> None:
    # a row's lease meant nothing any more: the column comes back filled with acquired_at
    with op.batch_alter_table('run_locks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE run_locks SET expires_at = acquired_at")
    with op.batch_alter_table('run_locks', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)
