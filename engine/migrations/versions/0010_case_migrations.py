"""case migrations: a running case moved to another version of its pathway, with the
state it had, so that the move can be undone

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa
import engine.store


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_migrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('from_deployment_id', sa.Integer(), nullable=False),
    sa.Column('to_deployment_id', sa.Integer(), nullable=False),
    sa.Column('at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('previous_state', sa.Text(), nullable=False),
    sa.Column('case_version_after', sa.Integer(), nullable=False),
    sa.Column('reverted_at', engine.store.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_migrations_case_id_cases')),
    sa.ForeignKeyConstraint(['from_deployment_id'], ['deployments.id'], name=op.f('fk_case_migrations_from_deployment_id_deployments')),
    sa.ForeignKeyConstraint(['to_deployment_id'], ['deployments.id'], name=op.f('fk_case_migrations_to_deployment_id_deployments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_migrations'))
    )
    with op.batch_alter_table('case_migrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_migrations_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_migrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_migrations_case_id'))

    op.drop_table('case_migrations')
