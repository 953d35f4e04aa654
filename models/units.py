"""The unit tree: ministry > province > school > college, and the majors of a college.

Each unit carries its ancestors' ids so that "is X inside unit U" is one
equality test on an indexed column, not a walk up the tree.
"""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .vocab import COLLEGE, MINISTRY, PROVINCE, SCHOOL


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        Index("ix_units_kind_name", "kind", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    province_id: Mapped[int | None] = mapped_column(index=True)
    school_id: Mapped[int | None] = mapped_column(index=True)
    college_id: Mapped[int | None] = mapped_column(index=True)

    parent: Mapped["Unit | None"] = relationship(remote_side="Unit.id")

    def ancestor_id(self, kind: str) -> int | None:
        """This unit's ancestor (or itself) of the given kind."""
        if kind == MINISTRY:
            return None
        return {PROVINCE: self.province_id, SCHOOL: self.school_id, COLLEGE: self.college_id}[kind]

    def contains(self, other: "Unit") -> bool:
        """True when `other` is this unit or below it."""
        if self.kind == MINISTRY:
            return True
        return other.ancestor_id(self.kind) == self.id

    @property
    def full_name(self) -> str:
        parts, unit = [], self
        while unit is not None and unit.kind != MINISTRY:
            parts.append(unit.name)
            unit = unit.parent
        return " · ".join(reversed(parts)) or self.name

    def __repr__(self) -> str:
        return f"<Unit {self.kind} {self.name!r}>"


class Major(Base):
    __tablename__ = "majors"
    __table_args__ = (UniqueConstraint("college_id", "name", "direction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    college_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # 专业方向: optional; '' when the major has none (NULL would defeat the unique key).
    direction: Mapped[str] = mapped_column(String(100), default="")

    college: Mapped[Unit] = relationship()

    @property
    def label(self) -> str:
        return f"{self.name}（{self.direction}）" if self.direction else self.name


def new_unit(kind: str, name: str, parent: Unit | None) -> Unit:
    """A unit with its ancestry filled in (flush it to get its own id copied)."""
    unit = Unit(kind=kind, name=name, parent=parent)
    if parent is not None:
        unit.parent_id = parent.id
        unit.province_id, unit.school_id, unit.college_id = parent.province_id, parent.school_id, parent.college_id
    return unit


def fill_own_id(unit: Unit) -> None:
    """After flush: a unit is its own province/school/college for scope filters."""
    if unit.kind == PROVINCE:
        unit.province_id = unit.id
    elif unit.kind == SCHOOL:
        unit.school_id = unit.id
    elif unit.kind == COLLEGE:
        unit.college_id = unit.id


def create_unit(session, kind: str, name: str, parent: Unit | None) -> Unit:
    unit = new_unit(kind, name, parent)
    session.add(unit)
    session.flush()
    fill_own_id(unit)
    return unit


def ensure_ministry(session) -> Unit:
    """The one ministry unit (the root of the tree), created on first use."""
    unit = session.scalar(select(Unit).where(Unit.kind == MINISTRY))
    if unit is None:
        unit = Unit(kind=MINISTRY, name="教育部")
        session.add(unit)
        session.flush()
    return unit
