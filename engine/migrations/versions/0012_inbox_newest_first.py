"""the inbox can list the newest tasks first: indexes in that order (created, id) by
role, by claimer and for all tasks, beside the due-first ones

Revision ID: 0012
Revises: 0011
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_human_tasks_newest', ['state', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_human_tasks_newest_claimed', ['state', 'claimed_by', 'created_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_human_tasks_newest_role', ['state', 'role', 'created_at', 'id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_newest_role')
        batch_op.drop_index('ix_human_tasks_newest_claimed')
        batch_op.drop_index('ix_human_tasks_newest')
