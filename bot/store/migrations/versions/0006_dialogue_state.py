"""dialogue state per conversation: order, product and topic under discussion, misses in a row

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dialogue_state',
    sa.Column('conversation', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('product_sku', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('topic_source', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('last_action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('misses', sa.Integer(), nullable=False),
    sa.Column('negatives', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation')
    )
    with op.batch_alter_table('dialogue_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dialogue_state_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dialogue_state', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dialogue_state_customer_id'))
    op.drop_table('dialogue_state')
