"""accounts: a covering index for the 派发 recipient count

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:20:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_accounts_recipients', 'accounts', ['level', 'active', 'study_level', 'phone'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_accounts_recipients', table_name='accounts')
