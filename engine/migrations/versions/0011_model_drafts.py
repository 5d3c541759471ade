"""model drafts: a pathway's files saved from the modeler without being deployed

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa
import engine.store


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('model_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pathway', sa.String(length=200), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('based_on', sa.Integer(), nullable=True),
    sa.Column('saved_by', sa.String(length=100), nullable=True),
    sa.Column('saved_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_drafts')),
    sa.UniqueConstraint('pathway', name=op.f('uq_model_drafts_pathway'))
    )


def downgrade() -> None:
    op.drop_table('model_drafts')
