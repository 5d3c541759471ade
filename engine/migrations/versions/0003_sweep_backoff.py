"""timer sweep: a retry time per failing case, and the element an incident names

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import engine.store


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retry_at', engine.store.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('element', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('element')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('retry_at')
