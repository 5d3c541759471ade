"""agencies as data: a register of agencies and their kinds, every user at one agency,
who holds each case (the receiving agency, or an agency kind it was referred to), and the
roles (lanes) of each deployment

Revision ID: 0004
Revises: 0003
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
from lxml import etree

import engine.store


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

KINDS = ["地域包括支援センター", "基幹相談支援センター", "子育て世代包括支援センター", "自立相談支援機関",
         "福祉まるごと相談室", "社会福祉協議会", "参加支援事業者", "アウトリーチ事業者", "市福祉課"]
DEFAULT_AGENCY = ("市福祉課", "市福祉課")


def upgrade() -> None:
    kinds = op.create_table('agency_kinds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_kinds')),
    sa.UniqueConstraint('name', name=op.f('uq_agency_kinds_name'))
    )
    agencies = op.create_table('agencies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['kind'], ['agency_kinds.name'], name=op.f('fk_agencies_kind_agency_kinds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agencies')),
    sa.UniqueConstraint('name', name=op.f('uq_agencies_name'))
    )
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agencies_kind'), ['kind'], unique=False)
    now = datetime.now(timezone.utc)
    op.bulk_insert(kinds, [{"name": name} for name in KINDS])
    op.bulk_insert(agencies, [{"name": DEFAULT_AGENCY[0], "kind": DEFAULT_AGENCY[1],
                               "is_default": True, "created_at": now}])

    connection = op.get_bind()
    # Users' free-text agencies become registered agencies (kind: the city's own).
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('agency', sa.String))
    agency_rows = sa.table('agencies', sa.column('id', sa.Integer), sa.column('name', sa.String),
                           sa.column('kind', sa.String), sa.column('is_default', sa.Boolean),
                           sa.column('created_at', engine.store.UTCDateTime(timezone=True)))
    legacy = sorted({row.agency for row in connection.execute(sa.select(users.c.agency))
                     if row.agency and row.agency != DEFAULT_AGENCY[0]})
    if legacy:
        op.bulk_insert(agencies, [{"name": name, "kind": DEFAULT_AGENCY[1], "is_default": False,
                                   "created_at": now} for name in legacy])
    ids = {row.name: row.id for row in connection.execute(sa.select(agency_rows.c.id, agency_rows.c.name))}
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
    users_with_id = sa.table('users', sa.column('id', sa.Integer), sa.column('agency', sa.String),
                             sa.column('agency_id', sa.Integer))
    for row in connection.execute(sa.select(users.c.id, users.c.agency)).fetchall():
        connection.execute(users_with_id.update().where(users_with_id.c.id == row.id)
                           .values(agency_id=ids.get(row.agency or "", ids[DEFAULT_AGENCY[0]])))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('agency_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_users_agency_id'), ['agency_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_agency_id_agencies'), 'agencies', ['agency_id'], ['id'])
        batch_op.drop_column('agency')

    op.create_table('case_agencies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('agency_kind', sa.String(length=100), nullable=True),
    sa.Column('basis', sa.String(length=20), nullable=False),
    sa.Column('element', sa.String(length=200), nullable=True),
    sa.Column('since', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_case_agencies_agency_id_agencies')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_agencies_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_agencies'))
    )
    with op.batch_alter_table('case_agencies', schema=None) as batch_op:
        batch_op.create_index('ix_case_agencies_agency_id_case_id', ['agency_id', 'case_id'], unique=False)
        batch_op.create_index('ix_case_agencies_agency_kind_case_id', ['agency_kind', 'case_id'], unique=False)
    # Cases opened before agencies existed are held by the city's own agency.
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('opened_at', engine.store.UTCDateTime(timezone=True)))
    holders = sa.table('case_agencies', sa.column('case_id', sa.Integer), sa.column('agency_id', sa.Integer),
                       sa.column('basis', sa.String), sa.column('since', engine.store.UTCDateTime(timezone=True)))
    rows = [{"case_id": row.id, "agency_id": ids[DEFAULT_AGENCY[0]], "basis": "receiving",
             "since": row.opened_at} for row in connection.execute(sa.select(cases.c.id, cases.c.opened_at))]
    if rows:
        connection.execute(holders.insert(), rows)

    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('roles', sa.JSON(), nullable=True))
    deployments = sa.table('deployments', sa.column('id', sa.Integer), sa.column('files', sa.JSON),
                           sa.column('roles', sa.JSON))
    for row in connection.execute(sa.select(deployments.c.id, deployments.c.files)).fetchall():
        connection.execute(deployments.update().where(deployments.c.id == row.id)
                           .values(roles=_lanes(row.files)))
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.alter_column('roles', existing_type=sa.JSON(), nullable=False)


def _lanes(files: dict) -> list[str]:
    names = []
    for name, text in (files or {}).items():
        if name.endswith(".bpmn"):
            tree = etree.fromstring(text.encode("utf-8"))
            for lane in tree.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}lane"):
                if lane.get("name") and lane.get("name") not in names:
                    names.append(lane.get("name"))
    return names


def downgrade() -> None:
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_column('roles')
    with op.batch_alter_table('case_agencies', schema=None) as batch_op:
        batch_op.drop_index('ix_case_agencies_agency_kind_case_id')
        batch_op.drop_index('ix_case_agencies_agency_id_case_id')
    op.drop_table('case_agencies')
    connection = op.get_bind()
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency', sa.String(length=200), nullable=True))
    connection.execute(sa.text(
        "UPDATE users SET agency = (SELECT name FROM agencies WHERE agencies.id = users.agency_id)"))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_agency_id_agencies'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_agency_id'))
        batch_op.drop_column('agency_id')
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agencies_kind'))
    op.drop_table('agencies')
    op.drop_table('agency_kinds')
