"""What a rule leaves to be done outside its transaction, said as data.

A rule in models/ never enqueues: it commits, then returns what should follow
(an SMS to send, WeChat users whose role tag may have changed, a user just bound
who missed open tasks' messages, a verification code to text). The caller, a handler, starts that work (handlers/follow_up.py)
once the rule returns: models/ stays free of RQ and of the WeChat API.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeSms:
    """A verification code to text by a job: ids only (the code is sealed in its outbox row);
    a code replaced meanwhile is not sent."""

    code_id: int
    outbox_id: int


@dataclass
class FollowUps:
    sms_outbox_ids: list[int] = field(default_factory=list)  # outbox rows to deliver by a job
    tag_openids: list[str] = field(default_factory=list)     # WeChat users whose role tag may change
    catch_up_openids: list[str] = field(default_factory=list)  # just bound: open tasks they missed
    code_sms: CodeSms | None = None

    def __bool__(self) -> bool:
        return bool(self.sms_outbox_ids or self.tag_openids or self.catch_up_openids or self.code_sms)
