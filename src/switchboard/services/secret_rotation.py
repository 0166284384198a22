"""Re-encrypting every stored secret under the current (first) ENCRYPTION_KEY."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.models import AlertWebhook, LLMProvider, UserAPIKey
from switchboard.secrets import SecretManager


@dataclass(frozen=True, slots=True)
class RotationReport:
    provider_keys: int
    user_keys: int
    webhook_secrets: int = 0


def rotate_secrets(session: Session, manager: SecretManager) -> RotationReport:
    """Rotate provider system keys, BYOK keys and alert webhooks' signing secrets in one
    transaction: if any value cannot be decrypted, nothing is changed and
    SecretDecryptionError says so."""
    providers = session.scalars(
        select(LLMProvider).where(LLMProvider.encrypted_api_key.is_not(None))
    ).all()
    user_keys = session.scalars(select(UserAPIKey)).all()
    webhooks = session.scalars(
        select(AlertWebhook).where(AlertWebhook.encrypted_secret.is_not(None))
    ).all()
    try:
        for provider in providers:
            assert provider.encrypted_api_key is not None
            provider.encrypted_api_key = manager.rotate(provider.encrypted_api_key)
        for user_key in user_keys:
            user_key.encrypted_api_key = manager.rotate(user_key.encrypted_api_key)
        for webhook in webhooks:
            assert webhook.encrypted_secret is not None
            webhook.encrypted_secret = manager.rotate(webhook.encrypted_secret)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return RotationReport(
        provider_keys=len(providers), user_keys=len(user_keys), webhook_secrets=len(webhooks)
    )
