"""households, consent per member, kept records and meetings

Cases opened before households existed get their 本人 from the case data (氏名, ふりがな).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import unicodedata
from datetime import datetime, timezone

import engine.store


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=30), nullable=False),
    sa.Column('timing', sa.String(length=20), nullable=True),
    sa.Column('local_name', sa.String(length=200), nullable=True),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('convener', sa.String(length=100), nullable=False),
    sa.Column('minutes', sa.JSON(), nullable=False),
    sa.Column('agreements', sa.JSON(), nullable=False),
    sa.Column('agencies', sa.JSON(), nullable=False),
    sa.Column('next_on', sa.Date(), nullable=True),
    sa.Column('created_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetings_basis'), ['basis'], unique=False)

    op.create_table('meeting_cases',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_meeting_cases_case_id_cases')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_cases_meeting_id_meetings')),
    sa.PrimaryKeyConstraint('meeting_id', 'case_id', name=op.f('pk_meeting_cases'))
    )
    with op.batch_alter_table('meeting_cases', schema=None) as batch_op:
        batch_op.create_index('ix_meeting_cases_case_id', ['case_id'], unique=False)

    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kana', sa.String(length=200), nullable=True),
    sa.Column('relation', sa.String(length=50), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('principal', sa.Boolean(), nullable=False),
    sa.Column('search_name', sa.String(length=200), nullable=False),
    sa.Column('search_kana', sa.String(length=200), nullable=True),
    sa.Column('created_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_members_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_members_search_kana', ['search_kana'], unique=False)
        batch_op.create_index('ix_members_search_name', ['search_name'], unique=False)

    op.create_table('meeting_attendees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('affiliation', sa.String(length=200), nullable=True),
    sa.Column('acknowledged_at', engine.store.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_attendees_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_attendees_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_attendees'))
    )
    with op.batch_alter_table('meeting_attendees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_attendees_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_attendees_user_id'), ['user_id'], unique=False)

    op.create_table('records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('form_key', sa.String(length=200), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('element', sa.String(length=200), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('row_members', sa.JSON(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_records_case_id_cases')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_records_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['subject_id'], ['members.id'], name=op.f('fk_records_subject_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records'))
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_case_id_id', ['case_id', 'id'], unique=False)

    op.create_table('consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('consenter', sa.String(length=20), nullable=False),
    sa.Column('proxy_relation', sa.String(length=50), nullable=True),
    sa.Column('explainer', sa.String(length=200), nullable=True),
    sa.Column('consented_on', sa.Date(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('scope_list', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('created_at', engine.store.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_consents_case_id_cases')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_consents_member_id_members')),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_consents_record_id_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consents_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consents_member_id'), ['member_id'], unique=False)

    op.create_table('record_members',
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_record_members_member_id_members')),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_record_members_record_id_records')),
    sa.PrimaryKeyConstraint('record_id', 'member_id', name=op.f('pk_record_members'))
    )
    with op.batch_alter_table('record_members', schema=None) as batch_op:
        batch_op.create_index('ix_record_members_member_id', ['member_id'], unique=False)

    op.create_table('consent_agencies',
    sa.Column('consent_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_consent_agencies_agency_id_agencies')),
    sa.ForeignKeyConstraint(['consent_id'], ['consents.id'], name=op.f('fk_consent_agencies_consent_id_consents')),
    sa.PrimaryKeyConstraint('consent_id', 'agency_id', name=op.f('pk_consent_agencies'))
    )
    with op.batch_alter_table('consent_agencies', schema=None) as batch_op:
        batch_op.create_index('ix_consent_agencies_agency_id', ['agency_id'], unique=False)

    _principals_from_case_data()


def _normalise(text):
    # The same as engine.households.normalise, frozen here as this revision knew it.
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in text if not ch.isspace())
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text).lower()


def _principals_from_case_data() -> None:
    connection = op.get_bind()
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('data', sa.JSON))
    members = sa.table('members', sa.column('case_id', sa.Integer), sa.column('name', sa.String),
                       sa.column('kana', sa.String), sa.column('relation', sa.String),
                       sa.column('flags', sa.JSON), sa.column('principal', sa.Boolean),
                       sa.column('search_name', sa.String), sa.column('search_kana', sa.String),
                       sa.column('created_at', engine.store.UTCDateTime(timezone=True)),
                       sa.column('updated_at', engine.store.UTCDateTime(timezone=True)))
    now = datetime.now(timezone.utc)
    rows = []
    for case in connection.execute(sa.select(cases.c.id, cases.c.data)):
        name = " ".join(str((case.data or {}).get("氏名") or "").split())
        if name:
            kana = (case.data or {}).get("ふりがな") or None
            rows.append({"case_id": case.id, "name": name[:200], "kana": kana, "relation": "本人",
                         "flags": {}, "principal": True, "search_name": _normalise(name)[:200],
                         "search_kana": _normalise(kana)[:200] if kana else None,
                         "created_at": now, "updated_at": now})
    if rows:
        op.bulk_insert(members, rows)


def downgrade() -> None:
    with op.batch_alter_table('consent_agencies', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_agencies_agency_id')

    op.drop_table('consent_agencies')
    with op.batch_alter_table('record_members', schema=None) as batch_op:
        batch_op.drop_index('ix_record_members_member_id')

    op.drop_table('record_members')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_member_id'))
        batch_op.drop_index(batch_op.f('ix_consents_case_id'))

    op.drop_table('consents')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_case_id_id')

    op.drop_table('records')
    with op.batch_alter_table('meeting_attendees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_attendees_user_id'))
        batch_op.drop_index(batch_op.f('ix_meeting_attendees_meeting_id'))

    op.drop_table('meeting_attendees')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_search_name')
        batch_op.drop_index('ix_members_search_kana')
        batch_op.drop_index(batch_op.f('ix_members_case_id'))

    op.drop_table('members')
    with op.batch_alter_table('meeting_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_meeting_cases_case_id')

    op.drop_table('meeting_cases')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meetings_basis'))

    op.drop_table('meetings')
