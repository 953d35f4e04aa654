"""graduates: 学号 unique within its school, not across the country (existing rows kept)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:45:00
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows unique across the country are unique per school too: nothing to move or merge.
    with op.batch_alter_table('graduates') as batch:
        batch.drop_constraint('uq_graduates_student_no', type_='unique')
        batch.create_unique_constraint('uq_graduates_student_no_school_id', ['student_no', 'school_id'])


def downgrade() -> None:
    # Fails while two schools share a 学号, as it must: the old rule cannot hold those rows.
    with op.batch_alter_table('graduates') as batch:
        batch.drop_constraint('uq_graduates_student_no_school_id', type_='unique')
        batch.create_unique_constraint('uq_graduates_student_no', ['student_no'])
