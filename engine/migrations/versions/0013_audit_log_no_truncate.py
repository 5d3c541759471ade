"""audit_log refuses TRUNCATE on PostgreSQL too

UPDATE and DELETE were refused row by row (0006); TRUNCATE fires no row trigger, so
PostgreSQL emptied the log without a word. A statement-level BEFORE TRUNCATE trigger with
the same function refuses it. SQLite has no TRUNCATE: its ``DELETE FROM audit_log`` fires
the DELETE trigger (a table with triggers is never emptied in one step).

Revision ID: 0013
Revises: 0012
"""
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
                      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
