"""Platform accounts at the five levels (SPEC 1)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .units import Major, Unit
from .vocab import COUNSELOR, LEVEL_NAMES, STAFF_LEVELS, STUDY_LEVELS

account_majors = Table(
    "account_majors",
    Base.metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("major_id", ForeignKey("majors.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class AccountCohort(Base):
    """A cohort (届别) a counselor is responsible for."""

    __tablename__ = "account_cohorts"
    __table_args__ = (Index("ix_account_cohorts_cohort", "cohort", "account_id"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    cohort: Mapped[int] = mapped_column(Integer, primary_key=True)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        Index("ix_accounts_scope", "level", "active", "province_id", "school_id", "college_id"),
        # Covers what a 派发 preview reads of every counselor (level, active, study level, the
        # phone its reach is joined on): at 150,000 counselors the count then never reads the
        # table itself (1.1 s -> 0.3 s on SQLite).
        Index("ix_accounts_recipients", "level", "active", "study_level", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(11), index=True)
    # Equal to phone while active, NULL once deleted: a unique key on it is
    # "one active account per phone" on SQLite and MariaDB alike.
    active_phone: Mapped[str | None] = mapped_column(String(11), unique=True)
    level: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    province_id: Mapped[int | None] = mapped_column()
    school_id: Mapped[int | None] = mapped_column()
    college_id: Mapped[int | None] = mapped_column()
    # A counselor's 学历层次 (one of STUDY_LEVELS).
    study_level: Mapped[str | None] = mapped_column(String(8))
    # A college account's limit on 学历层次, comma-separated; NULL = all.
    levels: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
    majors: Mapped[list[Major]] = relationship(secondary=account_majors, order_by=Major.id)
    cohort_rows: Mapped[list[AccountCohort]] = relationship(
        cascade="all, delete-orphan", order_by=AccountCohort.cohort
    )
    identity: Mapped["Identity | None"] = relationship(foreign_keys=[identity_id])  # noqa: F821

    @property
    def is_counselor(self) -> bool:
        return self.level == COUNSELOR

    @property
    def is_staff(self) -> bool:
        return self.level in STAFF_LEVELS

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def cohorts(self) -> list[int]:
        return [row.cohort for row in self.cohort_rows]

    def set_cohorts(self, cohorts) -> None:
        wanted = sorted(set(int(c) for c in cohorts))
        have = {row.cohort: row for row in self.cohort_rows}
        self.cohort_rows = [have.get(c) or AccountCohort(cohort=c) for c in wanted]

    @property
    def study_levels(self) -> tuple[str, ...]:
        """The 学历层次 this account covers: a counselor's one, a college's limit, or all."""
        if self.level == COUNSELOR:
            return (self.study_level,) if self.study_level else ()
        if self.levels:
            return tuple(x for x in self.levels.split(",") if x)
        return STUDY_LEVELS

    def place_in(self, unit: Unit) -> None:
        """Attach to a unit and copy its ancestry for indexed scope filters."""
        self.unit = unit
        self.unit_id = unit.id
        self.province_id, self.school_id, self.college_id = unit.province_id, unit.school_id, unit.college_id

    def deactivate(self) -> None:
        self.active = False
        self.active_phone = None
        self.deleted_at = utcnow()

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.level} {self.name}>"


class AuditLog(Base):
    """Who changed what, when (SPEC 1: every account change)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[int | None] = mapped_column()
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
