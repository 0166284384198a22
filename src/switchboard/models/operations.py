"""What the admin side keeps: the audit log of every change, leases that let one replica
at a time run a periodic job (the provider health checker), and change counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from switchboard._types import UTCDateTime
from switchboard.models.base import Base, created


class AuditLogEntry(Base):
    """Who changed what, when: before and after, with secrets masked."""

    __tablename__ = "llm_audit_log"
    __table_args__ = (Index("ix_llm_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = created()
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(50), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(50), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(255))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))


class Lease(Base):
    """A named job's current holder, until `expires_at`; taken with a conditional update."""

    __tablename__ = "llm_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ChangeCounter(Base):
    """A number raised by one in the transaction of every change of one kind, so that other
    processes learn of the change by reading one row (`switchboard.change_counters`)."""

    __tablename__ = "llm_change_counters"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)
