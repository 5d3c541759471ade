"""an index for the search by name: two-character pieces of each member's normalised
氏名 and ふりがな (members already stored are indexed here)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa
import engine.store


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('member_grams',
    sa.Column('gram', sa.String(length=2), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_member_grams_case_id_cases')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_grams_member_id_members')),
    sa.PrimaryKeyConstraint('gram', 'case_id', 'member_id', name=op.f('pk_member_grams'))
    )
    with op.batch_alter_table('member_grams', schema=None) as batch_op:
        batch_op.create_index('ix_member_grams_member_id', ['member_id'], unique=False)
    connection = op.get_bind()
    members = sa.table('members', sa.column('id', sa.Integer), sa.column('case_id', sa.Integer),
                       sa.column('search_name', sa.String), sa.column('search_kana', sa.String))
    grams = sa.table('member_grams', sa.column('gram', sa.String), sa.column('case_id', sa.Integer),
                     sa.column('member_id', sa.Integer))
    rows = []
    for member in connection.execute(sa.select(members)):
        for text in (member.search_name or "", member.search_kana or ""):
            pieces = {text[i:i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text} - {""}
            rows += [{"gram": g, "case_id": member.case_id, "member_id": member.id} for g in pieces]
    rows = list({(r["gram"], r["case_id"], r["member_id"]): r for r in rows}.values())
    if rows:
        connection.execute(grams.insert(), rows)



def downgrade() -> None:
    with op.batch_alter_table('member_grams', schema=None) as batch_op:
        batch_op.drop_index('ix_member_grams_member_id')

    op.drop_table('member_grams')
