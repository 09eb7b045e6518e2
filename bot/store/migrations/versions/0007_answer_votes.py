"""answer votes: a customer's 👍/👎 on a knowledge section, with the question's vector

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('answer_vote',
    sa.Column('question', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('chunk', sa.Integer(), nullable=False),
    sa.Column('section', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('polarity', sa.Integer(), nullable=False),
    sa.Column('conversation', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('in_reply_to', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_id', 'source', 'chunk', name='uq_answer_vote_section')
    )
    with op.batch_alter_table('answer_vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_vote_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_vote_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('answer_vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_vote_updated_at'))
        batch_op.drop_index(batch_op.f('ix_answer_vote_customer_id'))
    op.drop_table('answer_vote')
