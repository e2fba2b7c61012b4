"""bounces, suspended addresses and how far the bounce mailbox was read (issue 12 item 3)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bounces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation', sa.String(length=64), nullable=False),
    sa.Column('report', sa.String(length=64), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('campaign', sa.String(length=160), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('address_digest', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bounces')),
    sa.UniqueConstraint('organisation', 'report', 'delivery_id', name=op.f('uq_bounces_organisation'))
    )
    op.create_index(op.f('ix_bounces_delivery_id'), 'bounces', ['delivery_id'], unique=False)
    op.create_index(op.f('ix_bounces_recipient'), 'bounces', ['recipient'], unique=False)
    op.create_table('suspensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation', sa.String(length=64), nullable=False),
    sa.Column('member', sa.String(length=32), nullable=False),
    sa.Column('address_digest', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suspensions')),
    sa.UniqueConstraint('organisation', 'member', 'address_digest', name=op.f('uq_suspensions_organisation'))
    )
    op.create_index(op.f('ix_suspensions_member'), 'suspensions', ['member'], unique=False)
    op.create_table('bounce_mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation', sa.String(length=64), nullable=False),
    sa.Column('mailbox', sa.String(length=300), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bounce_mailboxes')),
    sa.UniqueConstraint('organisation', 'mailbox', name=op.f('uq_bounce_mailboxes_organisation'))
    )


def downgrade() -> None:
    op.drop_table('bounce_mailboxes')
    op.drop_index(op.f('ix_suspensions_member'), table_name='suspensions')
    op.drop_table('suspensions')
    op.drop_index(op.f('ix_bounces_recipient'), table_name='bounces')
    op.drop_index(op.f('ix_bounces_delivery_id'), table_name='bounces')
    op.drop_table('bounces')
