"""an append-only audit log, and inbox indexes that match the inbox order

The database itself refuses UPDATE and DELETE on audit_log (a trigger on SQLite and on
PostgreSQL). human_tasks gains due_sort (due_at, or far in the future) so one index serves
"due first, then created, then id", assigned_to (the agency kinds a model's assignTo names) and reads (the
case data a model's reads property lets the task's workers see).

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
from datetime import datetime, timezone

import engine.store

NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=timezone.utc)


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('actor_agency', sa.String(length=200), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('origin', sa.String(length=100), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('allowed', sa.Boolean(), nullable=False),
    sa.Column('basis', sa.String(length=200), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_case_id_id', ['case_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_member_id_id', ['member_id', 'id'], unique=False)

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_sort', engine.store.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('assigned_to', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('reads', sa.String(length=500), nullable=True))
    tasks = sa.table('human_tasks', sa.column('due_at', engine.store.UTCDateTime(timezone=True)),
                     sa.column('due_sort', engine.store.UTCDateTime(timezone=True)))
    op.get_bind().execute(tasks.update().values(due_sort=sa.func.coalesce(tasks.c.due_at, NO_DUE_DATE)))
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.alter_column('due_sort', existing_type=engine.store.UTCDateTime(timezone=True),
                              nullable=False)
        batch_op.drop_index(batch_op.f('ix_human_tasks_due_at'))
        batch_op.drop_index(batch_op.f('ix_human_tasks_state_role'))
        batch_op.create_index('ix_human_tasks_inbox_claimed', ['state', 'claimed_by', 'due_sort', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_human_tasks_inbox', ['state', 'due_sort', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_human_tasks_inbox_role', ['state', 'role', 'due_sort', 'created_at', 'id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
            END $$ LANGUAGE plpgsql""")
        op.execute("""CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
                      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""")
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER audit_log_no_{operation.lower()} BEFORE {operation}
                           ON audit_log BEGIN SELECT RAISE(ABORT,
                           'audit_log is append-only: {operation} refused'); END""")



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_inbox_role')
        batch_op.drop_index('ix_human_tasks_inbox')
        batch_op.drop_index('ix_human_tasks_inbox_claimed')
        batch_op.create_index(batch_op.f('ix_human_tasks_state_role'), ['state', 'role'], unique=False)
        batch_op.create_index(batch_op.f('ix_human_tasks_due_at'), ['due_at'], unique=False)
        batch_op.drop_column('reads')
        batch_op.drop_column('assigned_to')
        batch_op.drop_column('due_sort')

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_member_id_id')
        batch_op.drop_index('ix_audit_log_case_id_id')

    op.drop_table('audit_log')
