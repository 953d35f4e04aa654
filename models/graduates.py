"""Graduate records imported from the 就业管理系统 (SPEC 4, 9.4)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class Graduate(Base):
    __tablename__ = "graduates"
    __table_args__ = (
        # A counselor's 进展 filters on exactly these, in this order.
        Index("ix_graduates_scope", "college_id", "study_level", "cohort", "major_id", "destination"),
        # A 学号 is unique within its school only (SPEC 1); 学号 first, as the importer looks them up.
        UniqueConstraint("student_no", "school_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_no: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(50))
    province_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    college_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    major_id: Mapped[int] = mapped_column(ForeignKey("majors.id"))
    study_level: Mapped[str] = mapped_column(String(8))
    cohort: Mapped[int] = mapped_column()
    destination: Mapped[str] = mapped_column(String(8))
    intention: Mapped[str] = mapped_column(String(100), default="")
    expectation: Mapped[str] = mapped_column(String(200), default="")
    follows_bound: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
