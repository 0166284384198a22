"""Webhooks alerts are sent to: a URL (held to `PROVIDER_ADDRESSES`, as a provider's is, and
checked again on every connection), a body format, and a signing secret stored encrypted with
the secret manager and never shown back (a webhook says only whether it has one)."""

from __future__ import annotations

from typing import Any, TypedDict
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from switchboard.address_policy import ProviderAddresses
from switchboard.errors import ConfigurationError, InvalidFieldError
from switchboard.models import AlertWebhook
from switchboard.redaction import mask_url
from switchboard.secrets import SecretManager
from switchboard.services.audit import Action, Entity, snapshot_row
from switchboard.services.paging import FIRST_PAGE, Page, Window, page_of, rows_where
from switchboard.services.provider_urls import check_base_url
from switchboard.services.rows import Change, apply_changes, commit, commit_change, delete_row
from switchboard.services.rows import get_row as _get_row
from switchboard.vocabulary import WebhookFormat

URL_FIELD = "url"
MAX_URL_CHARS = 2000


class WebhookFields(TypedDict, total=False):
    name: str
    url: str
    format: WebhookFormat
    secret: str | None
    """The signing secret in plain text (None: none); stored encrypted."""
    is_active: bool


def list_webhooks(session: Session, *, window: Window = FIRST_PAGE) -> Page[AlertWebhook]:
    return page_of(session, rows_where(AlertWebhook, {}), AlertWebhook.id, window=window)


def get_webhook(session: Session, webhook_id: int) -> AlertWebhook:
    return _get_row(session, AlertWebhook, webhook_id, f"webhook {webhook_id}")


def create_webhook(
    session: Session,
    fields: WebhookFields,
    *,
    addresses: ProviderAddresses,
    secrets: SecretManager | None,
    actor: str,
) -> AlertWebhook:
    """Commits."""
    values = _stored(fields, addresses, secrets)
    values.setdefault("format", str(WebhookFormat.JSON))
    row = AlertWebhook(**values)
    session.add(row)
    change = Change(actor, Action.CREATE, Entity.ALERT_WEBHOOK)
    commit_change(session, change, row, None, snapshot=snapshot_webhook)
    return row


def update_webhook(
    session: Session,
    webhook_id: int,
    fields: WebhookFields,
    *,
    addresses: ProviderAddresses,
    secrets: SecretManager | None,
    actor: str,
) -> AlertWebhook:
    """The fields given change. Commits."""
    row = get_webhook(session, webhook_id)
    before = snapshot_webhook(row)
    if apply_changes(row, _stored(fields, addresses, secrets)):
        change = Change(actor, Action.UPDATE, Entity.ALERT_WEBHOOK)
        commit_change(session, change, row, before, snapshot=snapshot_webhook)
    return row


def delete_webhook(session: Session, webhook_id: int, *, actor: str) -> None:
    """The webhook and its deliveries. Commits."""
    row = get_webhook(session, webhook_id)
    change = Change(actor, Action.DELETE, Entity.ALERT_WEBHOOK)
    delete_row(session, change, row, snapshot=snapshot_webhook)
    commit(session, change)


def _stored(
    fields: WebhookFields, addresses: ProviderAddresses, secrets: SecretManager | None
) -> dict[str, object]:
    values: dict[str, object] = {
        name: value for name, value in fields.items() if name not in ("secret", "format")
    }
    if "format" in fields:
        values["format"] = str(fields["format"])
    if "url" in fields:
        if len(fields["url"]) > MAX_URL_CHARS:
            raise InvalidFieldError(URL_FIELD, f"is longer than {MAX_URL_CHARS} characters")
        url = urlsplit(fields["url"])
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidFieldError(URL_FIELD, "must be an http:// or https:// URL with a host")
        check_base_url(fields["url"], addresses, field=URL_FIELD)
    if "secret" in fields:
        secret = fields["secret"]
        if secret is None:
            values["encrypted_secret"] = None
        elif secrets is None:
            raise ConfigurationError(
                "ENCRYPTION_KEY is not set: a webhook's secret cannot be stored"
            )
        else:
            values["encrypted_secret"] = secrets.encrypt_secret(secret, "webhook")[
                "encrypted_value"
            ]
    return values


def snapshot_webhook(row: AlertWebhook | None) -> dict[str, Any] | None:
    """The webhook as the audit log shows it: its URL masked past the first path segment,
    as its secret is (a Slack webhook's path is a credential)."""
    values = snapshot_row(row)
    if values is not None and isinstance(values.get("url"), str):
        values["url"] = mask_url(values["url"])
    return values
