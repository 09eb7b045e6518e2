"""link code origins and lock-outs, forget requests per customer, tombstones of forgotten customers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('link_code_origin',
    sa.Column('link_code_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('workspace', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.ForeignKeyConstraint(['link_code_id'], ['link_code.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('link_code_id')
    )
    op.create_table('link_attempt',
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('misses', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('account')
    )
    op.create_table('forget_request',
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id')
    )
    op.create_table('forgotten_customer',
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('forgotten_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id')
    )


def downgrade() -> None:
    op.drop_table('forgotten_customer')
    op.drop_table('forget_request')
    op.drop_table('link_attempt')
    op.drop_table('link_code_origin')
