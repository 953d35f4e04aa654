"""tasks.student_text (给学生), task_recipients.student_views and share_opens (students reached)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:30:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

FIGURES = ['task_id', 'province_id', 'school_id', 'college_id', 'completed_at', 'checked_in_at', 'notify_state',
           'delivery', 'left_at']


def upgrade() -> None:
    op.add_column('tasks', sa.Column('student_text', sa.Text(), nullable=True))
    op.add_column('task_recipients', sa.Column('student_views', sa.Integer(), server_default='0', nullable=False))
    # The 进度 figures stay an index-only read with 学生查看 among them.
    op.drop_index('ix_task_recipients_figures', table_name='task_recipients')
    op.create_index('ix_task_recipients_figures', 'task_recipients', FIGURES + ['student_views'], unique=False)
    op.create_table(
        'share_opens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('browser', sa.String(length=32), nullable=False),
        sa.Column('opened_at', models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id']),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('task_id', 'account_id', 'browser'),
    )


def downgrade() -> None:
    op.drop_table('share_opens')
    op.drop_index('ix_task_recipients_figures', table_name='task_recipients')
    op.create_index('ix_task_recipients_figures', 'task_recipients', FIGURES, unique=False)
    with op.batch_alter_table('task_recipients') as batch:
        batch.drop_column('student_views')
    op.drop_column('tasks', 'student_text')
