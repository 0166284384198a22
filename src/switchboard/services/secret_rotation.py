"""Re-encrypting every stored secret under the current (first) ENCRYPTION_KEY."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.models import LLMProvider, UserAPIKey
from switchboard.secrets import SecretManager


@dataclass(frozen=True, slots=True)
class RotationReport:
    provider_keys: int
    user_keys: int


def rotate_secrets(session: Session, manager: SecretManager) -> RotationReport:
    """Rotate provider system keys and BYOK keys in one transaction: if any value cannot be
    decrypted, nothing is changed and SecretDecryptionError says so."""
    providers = session.scalars(
        select(LLMProvider).where(LLMProvider.encrypted_api_key.is_not(None))
    ).all()
    user_keys = session.scalars(select(UserAPIKey)).all()
    try:
        for provider in providers:
            assert provider.encrypted_api_key is not None
            provider.encrypted_api_key = manager.rotate(provider.encrypted_api_key)
        for user_key in user_keys:
            user_key.encrypted_api_key = manager.rotate(user_key.encrypted_api_key)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return RotationReport(provider_keys=len(providers), user_keys=len(user_keys))
