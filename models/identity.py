"""Identity accounts (学信账号-style, SPEC 2) and WeChat followers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, false as sa_false
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from .base import Base, UTCDateTime, utcnow


class Identity(Base):
    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(50), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A random initial password was sent by SMS: the first page login asks for a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Follower(Base):
    """What we know of a WeChat user of the service account (from events and user/info)."""

    __tablename__ = "followers"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    following: Mapped[bool] = mapped_column(default=True)
    # WeChat tag ids, comma-separated, as last set by us or read from user/info.
    tags: Mapped[str] = mapped_column(String(200), default="")
    subscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SmsCode(Base):
    """A one-time code sent by SMS (binding or password reset). Only its hash is kept."""

    __tablename__ = "sms_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    openid: Mapped[str | None] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)


class SmsOutbox(Base):
    """Every SMS the platform sends, with its delivery outcome."""

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), index=True)
    # The text with any code or password starred out; the full text only sealed (encrypted with
    # a key derived from SECRET_KEY) until an SMS gateway has taken it (models/sms.py).
    content: Mapped[str] = mapped_column(String(500))
    sealed: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(identity: Identity, password: str) -> bool:
    return check_password_hash(identity.password_hash, password or "")
