"""who holds a case, also on the case row (receiving agency, referred kinds), so that lists
test a column of the row they join instead of a subquery per row

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa
import engine.store


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receiving_agency_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('referred_kinds', sa.String(length=500), nullable=False, server_default=','))
        batch_op.create_index(batch_op.f('ix_cases_receiving_agency_id'), ['receiving_agency_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_cases_receiving_agency_id_agencies'), 'agencies', ['receiving_agency_id'], ['id'])
    connection = op.get_bind()
    holders = sa.table('case_agencies', sa.column('case_id', sa.Integer), sa.column('agency_id', sa.Integer),
                       sa.column('agency_kind', sa.String), sa.column('basis', sa.String),
                       sa.column('id', sa.Integer))
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('receiving_agency_id', sa.Integer),
                     sa.column('referred_kinds', sa.String))
    held: dict[int, dict] = {}
    for row in connection.execute(sa.select(holders).order_by(holders.c.id)):
        case = held.setdefault(row.case_id, {"receiving": None, "kinds": []})
        if row.basis == "receiving" and case["receiving"] is None:
            case["receiving"] = row.agency_id
        elif row.agency_kind and row.agency_kind not in case["kinds"]:
            case["kinds"].append(row.agency_kind)
    for case_id, case in held.items():
        connection.execute(cases.update().where(cases.c.id == case_id).values(
            receiving_agency_id=case["receiving"],
            referred_kinds="," + "".join(f"{kind}," for kind in case["kinds"])))



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_receiving_agency_id_agencies'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cases_receiving_agency_id'))
        batch_op.drop_column('referred_kinds')
        batch_op.drop_column('receiving_agency_id')

