"""Escalation digests: tasks.escalate (提醒上级) and escalation_digests (one row per task, staff user
and moment: the record that it was written and sent)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:00:00
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('escalate', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        'escalation_digests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('moment', sa.String(length=8), nullable=False),
        sa.Column('pending', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('errcode', sa.Integer(), nullable=True),
        sa.Column('claimed_at', models.base.UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
        sa.Column('sent_at', models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['staff_id'], ['accounts.id'], name=op.f('fk_escalation_digests_staff_id_accounts')),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_escalation_digests_task_id_tasks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_digests')),
        sa.UniqueConstraint('task_id', 'staff_id', 'moment', name=op.f('uq_escalation_digests_task_id_staff_id_moment')),
    )
    op.create_index('ix_escalation_digests_state', 'escalation_digests', ['state', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_escalation_digests_state', table_name='escalation_digests')
    op.drop_table('escalation_digests')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('escalate')
