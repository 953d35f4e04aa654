"""task_recipients: a covering index for the 进度 figures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:15:00
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_task_recipients_figures', 'task_recipients',
                    ['task_id', 'province_id', 'school_id', 'college_id', 'completed_at', 'checked_in_at',
                     'notify_state', 'delivery'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_task_recipients_figures', table_name='task_recipients')
