"""sms_outbox.sealed (the full text of an SMS carrying a code or password, encrypted until a
gateway took it) and identities.must_change_password (first page login asks for a new one)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 05:45:00
"""
import re

import sqlalchemy as sa
from alembic import op

# What earlier versions kept in clear: star it out in the rows already there.
_SECRETS = (re.compile(r"(验证码 )(\d{6})"), re.compile(r"(初始密码：)([^。，,\s]+)"))

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sms_outbox') as batch:
        batch.add_column(sa.Column('sealed', sa.Text(), nullable=True))
    with op.batch_alter_table('identities') as batch:
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
    conn = op.get_bind()
    outbox = sa.table('sms_outbox', sa.column('id', sa.Integer), sa.column('content', sa.String))
    for row_id, content in conn.execute(sa.select(outbox.c.id, outbox.c.content)).all():
        starred = content
        for pattern in _SECRETS:
            starred = pattern.sub(lambda m: m.group(1) + "*" * len(m.group(2)), starred)
        if starred != content:
            conn.execute(outbox.update().where(outbox.c.id == row_id).values(content=starred))


def downgrade() -> None:
    with op.batch_alter_table('identities') as batch:
        batch.drop_column('must_change_password')
    with op.batch_alter_table('sms_outbox') as batch:
        batch.drop_column('sealed')
