"""The catalog the gateway routes over, and keeping it current.

The snapshot is loaded at start and replaced whole when the catalog changes. Change is noticed
by polling a cheap fingerprint of the three catalog tables (row counts and newest
`updated_at`), so an admin's change made through any replica reaches every replica within
one poll interval. The decrypted system keys are derived with each snapshot.

The same query reads the `credentials` change counter (`credentials_revision`), which moves
with every change to users, virtual keys and BYOK keys: the gateway's key cache follows it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard import change_counters
from switchboard.catalog.loader import load_snapshot, price_ceilings
from switchboard.catalog.snapshot import CatalogSnapshot
from switchboard.catalog.system_keys import system_key
from switchboard.errors import ConfigurationError, SecretDecryptionError
from switchboard.logs import log_event
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule
from switchboard.secrets import SecretManager
from switchboard.settings import Settings

log = logging.getLogger(__name__)

Names = Callable[[int | None, int | None], tuple[str | None, str | None]]
"""(provider id, model id) → (provider slug, model name), for logs; None for what is unknown
(`CatalogState.names`)."""


@dataclass(frozen=True, slots=True)
class CatalogView:
    snapshot: CatalogSnapshot
    system_keys: dict[int, str]
    """Provider id → its decrypted system key (stored, else from the environment)."""
    fingerprint: tuple[Any, ...]


class CatalogState:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        secrets: SecretManager | None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._secrets = secrets
        self._version = 0
        self._view: CatalogView | None = None
        self.credentials_revision: int | None = None
        """The `credentials` change counter, as the last load or poll read it."""

    @property
    def current(self) -> CatalogView:
        """The catalog loaded last (`load` comes first, at the gateway's start)."""
        if self._view is None:
            raise RuntimeError("the catalog has not been loaded")
        return self._view

    def names(self, provider_id: int | None, model_id: int | None) -> tuple[str | None, str | None]:
        """A provider's slug and a model's name, for logs (the model's provider when no
        provider is given); None for what the current catalog does not hold."""
        if self._view is None:
            return None, None
        snapshot = self._view.snapshot
        model = snapshot.models.get(model_id) if model_id is not None else None
        if provider_id is None and model is not None:
            provider_id = model.provider_id
        provider = snapshot.providers.get(provider_id) if provider_id is not None else None
        return (
            provider.slug if provider is not None else None,
            model.model_id if model is not None else None,
        )

    def load(self) -> CatalogView:
        """Read the catalog now and make it current."""
        with self._sessions() as session:
            fingerprint, self.credentials_revision = _fingerprint(session)
            self._version += 1
            snapshot = load_snapshot(
                session,
                ceilings=price_ceilings(self._settings),
                environ=self._settings.provider_key_environment(),
                version=self._version,
            )
            keys = self._system_keys(session)
        self._view = CatalogView(snapshot=snapshot, system_keys=keys, fingerprint=fingerprint)
        return self._view

    def unchanged_snapshot(self, session: Session) -> CatalogSnapshot | None:
        """The current snapshot if the catalog stored now is the one it was loaded from (one
        fingerprint read, in `session`), else None: what a reader needing the catalog as
        stored may take instead of loading it again."""
        fingerprint, _ = _fingerprint(session)
        view = self._view
        return view.snapshot if view is not None and view.fingerprint == fingerprint else None

    def refresh_if_changed(self) -> bool:
        """Reload when the catalog's fingerprint moved; True when it did."""
        with self._sessions() as session:
            fingerprint, self.credentials_revision = _fingerprint(session)
        if self._view is not None and fingerprint == self._view.fingerprint:
            return False
        snapshot = self.load().snapshot
        log_event(
            log,
            logging.INFO,
            "catalog_reloaded",
            version=snapshot.version,
            providers=len(snapshot.providers),
            models=len(snapshot.models),
            rules=len(snapshot.rules),
        )
        return True

    def _system_keys(self, session: Session) -> dict[int, str]:
        """A key that cannot be read leaves its provider keyless (skipped), not the gateway down."""
        environ = self._settings.provider_key_environment()
        keys: dict[int, str] = {}
        for provider in session.scalars(select(LLMProvider)):
            try:
                key = system_key(provider, secrets=self._secrets, environ=environ)
            except (ConfigurationError, SecretDecryptionError) as error:
                log.error("provider %s has no usable system key: %s", provider.provider_slug, error)
                continue
            if key:
                keys[provider.id] = key
        return keys


def _fingerprint(session: Session) -> tuple[tuple[Any, ...], int | None]:
    """The catalog's fingerprint, and the `credentials` change counter."""
    *catalog, credentials = session.execute(
        select(
            select(func.count()).select_from(LLMProvider).scalar_subquery(),
            select(func.max(LLMProvider.updated_at)).scalar_subquery(),
            select(func.count()).select_from(LLMModel).scalar_subquery(),
            select(func.max(LLMModel.updated_at)).scalar_subquery(),
            select(func.count()).select_from(LLMRoutingRule).scalar_subquery(),
            select(func.max(LLMRoutingRule.updated_at)).scalar_subquery(),
            change_counters.current_value(change_counters.CREDENTIALS),
        )
    ).one()
    return tuple(catalog), credentials
