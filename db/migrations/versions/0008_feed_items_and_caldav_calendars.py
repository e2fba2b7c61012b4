"""feed memory and CalDAV calendars' sync state (issue 11)

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-29 22:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feed_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation', sa.String(length=64), nullable=False),
    sa.Column('feed', sa.String(length=64), nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_items')),
    sa.UniqueConstraint('organisation', 'feed', 'uid', name=op.f('uq_feed_items_organisation'))
    )
    op.create_table('caldav_calendars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation', sa.String(length=64), nullable=False),
    sa.Column('calendar', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('sync_token', sa.Text(), nullable=True),
    sa.Column('components', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caldav_calendars')),
    sa.UniqueConstraint('organisation', 'calendar', name=op.f('uq_caldav_calendars_organisation'))
    )
    with op.batch_alter_table('caldav_events') as batch:
        batch.add_column(sa.Column('pushed_ics', sa.Text(), nullable=True))
        batch.add_column(sa.Column('server_ics', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('caldav_events') as batch:
        batch.drop_column('server_ics')
        batch.drop_column('pushed_ics')
    op.drop_table('caldav_calendars')
    op.drop_table('feed_items')
