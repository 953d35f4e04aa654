"""Models and the domain rules that belong to them.

Importing this package registers every table on Base.metadata (Alembic and
create_all need them all); it opens no connection.
"""
from .base import Base, db, utcnow  # noqa: F401
from .units import Major, Unit  # noqa: F401
from .identity import Follower, Identity, SmsCode, SmsOutbox  # noqa: F401
from .accounts import Account, AccountCohort, AuditLog, account_majors  # noqa: F401
from .graduates import Graduate  # noqa: F401
from .tasks import Notification, ShareOpen, Task, TaskRecipient  # noqa: F401
from .escalation import EscalationDigest  # noqa: F401


def init_app(app) -> None:
    db.init_app(app)
