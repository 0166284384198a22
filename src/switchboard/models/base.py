"""The declarative base, naming convention and column helpers every table uses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, MetaData, false, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from switchboard._types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def flag(default: bool) -> Mapped[bool]:
    return mapped_column(
        Boolean, nullable=False, default=default, server_default=true() if default else false()
    )


def created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, nullable=False, default=utcnow)


def updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
