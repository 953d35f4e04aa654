"""task_recipients.left_at: a deleted counselor leaves its open tasks' figures (in the covering index)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 05:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_FIGURES = ['task_id', 'province_id', 'school_id', 'college_id', 'completed_at', 'checked_in_at',
            'notify_state', 'delivery']


def upgrade() -> None:
    with op.batch_alter_table('task_recipients') as batch:
        batch.add_column(sa.Column('left_at', sa.DateTime(), nullable=True))
    op.drop_index('ix_task_recipients_figures', table_name='task_recipients')
    op.create_index('ix_task_recipients_figures', 'task_recipients', _FIGURES + ['left_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_task_recipients_figures', table_name='task_recipients')
    op.create_index('ix_task_recipients_figures', 'task_recipients', _FIGURES, unique=False)
    with op.batch_alter_table('task_recipients') as batch:
        batch.drop_column('left_at')
