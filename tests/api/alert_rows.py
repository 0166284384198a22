"""What the alert tests share: the admin API's alerts path, and counting rules and webhooks
in the database behind the app (to show that a refused change stored nothing)."""

from __future__ import annotations

from sqlalchemy import func, select

from switchboard.db import open_database
from switchboard.models import AlertRule, AlertWebhook
from switchboard.settings import Settings

ALERTS = "/api/v1/admin/llm/alerts"


def count(settings: Settings, table: type[AlertRule] | type[AlertWebhook]) -> int:
    sessions = open_database(settings.database_url)
    try:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(table)) or 0
    finally:
        sessions.kw["bind"].dispose()


def stored_webhook(settings: Settings, webhook_id: int) -> tuple[str, str, str | None]:
    """The webhook's name, URL and encrypted secret as stored (never shown by any surface)."""
    sessions = open_database(settings.database_url)
    try:
        with sessions() as session:
            row = session.get(AlertWebhook, webhook_id)
            assert row is not None
            return row.name, row.url, row.encrypted_secret
    finally:
        sessions.kw["bind"].dispose()
