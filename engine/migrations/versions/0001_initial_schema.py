"""initial schema: users, deployments, cases, tasks, history

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 23:00:57.686966
"""
from alembic import op
import sqlalchemy as sa
import engine.store


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pathway', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('deployed_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deployed_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments')),
    sa.UniqueConstraint('pathway', 'version', name=op.f('uq_deployments_pathway'))
    )
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployments_pathway'), ['pathway'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('agency', sa.String(length=200), nullable=True),
    sa.Column('created_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.Integer(), nullable=False),
    sa.Column('pathway', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=100), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('timers', sa.JSON(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('serializer_version', sa.String(length=20), nullable=False),
    sa.Column('next_timer_at', engine.store.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_cases_deployment_id_deployments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_deployment_id'), ['deployment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_next_timer_at'), ['next_timer_at'], unique=False)

    op.create_table('case_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_history_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_history'))
    )
    with op.batch_alter_table('case_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_history_case_id'), ['case_id'], unique=False)

    op.create_table('case_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=200), nullable=False),
    sa.Column('spec_id', sa.String(length=200), nullable=False),
    sa.Column('previous_spec_id', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_steps_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_steps'))
    )
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_steps_case_id'), ['case_id'], unique=False)

    op.create_table('human_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('spec_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=100), nullable=True),
    sa.Column('form_key', sa.String(length=200), nullable=True),
    sa.Column('stage', sa.String(length=100), nullable=True),
    sa.Column('created_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', engine.store.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('closed_at', engine.store.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_human_tasks_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_human_tasks'))
    )
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_human_tasks_case_id_state', ['case_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_human_tasks_due_at'), ['due_at'], unique=False)
        batch_op.create_index('ix_human_tasks_state_role', ['state', 'role'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('retry_count', sa.Integer(), nullable=False),
    sa.Column('resolved_at', engine.store.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_incidents_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_case_id'))

    op.drop_table('incidents')
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_state_role')
        batch_op.drop_index(batch_op.f('ix_human_tasks_due_at'))
        batch_op.drop_index('ix_human_tasks_case_id_state')

    op.drop_table('human_tasks')
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_steps_case_id'))

    op.drop_table('case_steps')
    with op.batch_alter_table('case_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_history_case_id'))

    op.drop_table('case_history')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_next_timer_at'))
        batch_op.drop_index(batch_op.f('ix_cases_deployment_id'))

    op.drop_table('cases')
    op.drop_table('users')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployments_pathway'))

    op.drop_table('deployments')
