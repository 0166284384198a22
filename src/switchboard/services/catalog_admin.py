"""Catalog administration: providers and models (rules: `routing_admin`).

Plain keyword-only functions over a `Session`; each change commits with its audit entry (see
`rows`). Every change moves a row's `updated_at` (the ORM's `onupdate`) or a table's
row count, which is what the gateway's catalog poll watches: every replica routes by the
change within one poll interval. A model's prices are kept as periods in
`llm_model_price_history`: creating a model opens the first; a price change closes the open
one and opens another, so what a model cost at any time stays known.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TypedDict, Unpack

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.address_policy import ProviderAddresses
from switchboard.errors import ConfigurationError, ConflictError, NotFoundError
from switchboard.models import (
    LLMModel,
    LLMModelPriceHistory,
    LLMProvider,
    LLMRoutingRule,
    UserAPIKey,
)
from switchboard.models.catalog import PRICE_COLUMNS
from switchboard.redaction import mask_secret
from switchboard.secrets import SecretManager
from switchboard.services import byok, rows
from switchboard.services.audit import Action, Entity, record_change, snapshot_row
from switchboard.services.paging import (
    FIRST_PAGE,
    Page,
    Window,
    containing,
    page_of,
    rows_where,
)
from switchboard.services.price_history import open_price_period, prices_differ, prices_of
from switchboard.services.provider_urls import check_base_url

PRICE_FIELDS = PRICE_COLUMNS


# Providers -----------------------------------------------------------------------------


class ProviderFilters(TypedDict, total=False):
    is_active: bool | None
    health_status: str | None
    provider_slug: str | None


def list_providers(
    session: Session, *, window: Window = FIRST_PAGE, **filters: Unpack[ProviderFilters]
) -> Page[LLMProvider]:
    """A page of providers by id, and how many match in all."""
    return page_of(session, rows_where(LLMProvider, filters), LLMProvider.id, window=window)


def model_counts(session: Session, *, provider_ids: Collection[int]) -> dict[int, int]:
    """How many models each of these providers has (one grouped query; none: absent)."""
    if not provider_ids:
        return {}
    query = (
        select(LLMModel.provider_id, func.count())
        .where(LLMModel.provider_id.in_(provider_ids))
        .group_by(LLMModel.provider_id)
    )
    return {provider_id: count for provider_id, count in session.execute(query)}


def get_provider(session: Session, *, provider_id: int) -> LLMProvider:
    return rows.get_row(session, LLMProvider, provider_id, f"provider {provider_id}")


def create_provider(
    session: Session,
    *,
    actor: str,
    fields: Mapping[str, Any],
    addresses: ProviderAddresses,
    api_key: str | None = None,
    secrets: SecretManager | None = None,
) -> LLMProvider:
    """Add a provider; its system key, if given, is stored encrypted. Its `base_url` must
    point where `addresses` (the `PROVIDER_ADDRESSES` setting) allows."""
    check_base_url(fields.get("base_url"), addresses)
    _check_slug_free(session, fields["provider_slug"])
    provider = LLMProvider(**fields)
    if api_key is not None:
        _set_key(provider, api_key, secrets)
    session.add(provider)
    rows.commit_change(session, rows.Change(actor, Action.CREATE, Entity.PROVIDER), provider, None)
    return provider


def update_provider(
    session: Session,
    *,
    actor: str,
    provider_id: int,
    changes: Mapping[str, Any],
    addresses: ProviderAddresses,
    secrets: SecretManager | None = None,
) -> LLMProvider:
    """Change some fields. `api_key` in `changes` replaces the stored key; None removes it.
    A new `base_url` must point where `addresses` allows."""
    provider = get_provider(session, provider_id=provider_id)
    if "base_url" in changes and changes["base_url"] != provider.base_url:
        check_base_url(changes["base_url"], addresses)
    before = snapshot_row(provider)
    changes = dict(changes)
    slug = changes.get("provider_slug")
    if slug is not None and slug != provider.provider_slug:
        _check_slug_free(session, slug)
    if "api_key" in changes:
        _set_key(provider, changes.pop("api_key"), secrets)
    rows.apply_changes(provider, changes)
    rows.commit_change(
        session, rows.Change(actor, Action.UPDATE, Entity.PROVIDER), provider, before
    )
    return provider


def delete_provider(
    session: Session, *, actor: str, provider_id: int, cascade: bool = False
) -> None:
    """Remove a provider. While models or users' keys refer to it, only with `cascade`, which
    removes them (and the models' rules) too."""
    provider = get_provider(session, provider_id=provider_id)
    models = session.scalars(select(LLMModel).where(LLMModel.provider_id == provider_id)).all()
    keys = session.scalars(select(UserAPIKey).where(UserAPIKey.provider_id == provider_id)).all()
    if (models or keys) and not cascade:
        raise ConflictError(
            f"provider {provider.provider_slug!r} has {len(models)} model(s) and {len(keys)} "
            "user key(s): remove them first, or delete with ?cascade=true"
        )
    for model in models:
        _remove_model(session, actor, model)
    for key in keys:
        change = rows.Change(actor, Action.DELETE, Entity.BYOK_KEY)
        rows.delete_row(session, change, key, snapshot=byok.audit_snapshot)
    session.flush()
    change = rows.Change(actor, Action.DELETE, Entity.PROVIDER)
    rows.delete_row(session, change, provider)
    rows.commit(session, change)


def masked_key(provider: LLMProvider) -> str | None:
    """`sk-abc…wxyz` for a stored key, else None."""
    stored = provider.encrypted_api_key
    return f"{provider.api_key_prefix or ''}…{provider.api_key_suffix or ''}" if stored else None


def _set_key(provider: LLMProvider, api_key: str | None, secrets: SecretManager | None) -> None:
    if api_key is None:
        provider.encrypted_api_key = provider.api_key_prefix = provider.api_key_suffix = None
        return
    if secrets is None:
        raise ConfigurationError("ENCRYPTION_KEY is not set: provider keys cannot be stored")
    provider.encrypted_api_key = secrets.encrypt_secret(api_key)["encrypted_value"]
    # The characters `mask_secret` shows: the mask is all that is ever kept in clear.
    provider.api_key_prefix, provider.api_key_suffix = mask_secret(api_key).partition("…")[::2]


def _check_slug_free(session: Session, slug: str) -> None:
    if session.scalar(select(LLMProvider.id).where(LLMProvider.provider_slug == slug)):
        raise ConflictError(f"a provider with slug {slug!r} already exists")


# Models --------------------------------------------------------------------------------


class ModelFilters(TypedDict, total=False):
    provider_id: int | None
    power_level: str | None
    is_active: bool | None
    is_deprecated: bool | None


def list_models(
    session: Session,
    *,
    window: Window = FIRST_PAGE,
    search: str | None = None,
    **filters: Unpack[ModelFilters],
) -> Page[LLMModel]:
    """A page of models by id, and how many match in all; `search`: only those whose name or
    provider model id contains it (ignoring case)."""
    query = rows_where(LLMModel, filters)
    if search:
        columns = (LLMModel.model_name, LLMModel.model_id, LLMModel.display_name)
        query = query.where(containing(search, *columns))
    return page_of(session, query, LLMModel.id, window=window)


def get_model(session: Session, *, model_row_id: int) -> LLMModel:
    return rows.get_row(session, LLMModel, model_row_id, f"model {model_row_id}")


def create_model(session: Session, *, actor: str, fields: Mapping[str, Any]) -> LLMModel:
    """Add a model to an existing provider, and open its first price period."""
    _check_provider_exists(session, fields["provider_id"])
    _check_model_id_free(session, fields["provider_id"], fields["model_id"], None)
    model = LLMModel(**fields)
    if model.replacement_model_id is not None:
        _check_replacement(session, model, model.replacement_model_id)
    session.add(model)
    session.flush()
    open_price_period(session, model, changed_by=actor)
    rows.commit_change(session, rows.Change(actor, Action.CREATE, Entity.MODEL), model, None)
    return model


def update_model(
    session: Session, *, actor: str, model_row_id: int, changes: Mapping[str, Any]
) -> LLMModel:
    """Change some fields; a price change closes the open price period and opens a new one."""
    model = get_model(session, model_row_id=model_row_id)
    before = snapshot_row(model)
    old_prices = prices_of(model)
    provider_id = changes.get("provider_id", model.provider_id)
    model_id = changes.get("model_id", model.model_id)
    if provider_id != model.provider_id:
        _check_provider_exists(session, provider_id)
    if (provider_id, model_id) != (model.provider_id, model.model_id):
        _check_model_id_free(session, provider_id, model_id, model.id)
    if changes.get("replacement_model_id") is not None:
        _check_replacement(session, model, changes["replacement_model_id"])
    rows.apply_changes(model, changes)
    if prices_differ(old_prices, prices_of(model)):
        open_price_period(session, model, changed_by=actor, previous=old_prices)
    rows.commit_change(session, rows.Change(actor, Action.UPDATE, Entity.MODEL), model, before)
    return model


def deprecate_model(
    session: Session,
    *,
    actor: str,
    model_row_id: int,
    replacement_model_id: int,
    deprecation_date: datetime | None = None,
) -> LLMModel:
    """The spec's "Deprecate Old Model": out of routing now; asked for by name, the
    replacement serves it."""
    model = get_model(session, model_row_id=model_row_id)
    before = snapshot_row(model)
    _check_replacement(session, model, replacement_model_id)
    model.is_deprecated, model.is_active = True, False
    model.replacement_model_id = replacement_model_id
    model.deprecation_date = deprecation_date or utcnow()
    rows.commit_change(session, rows.Change(actor, Action.DEPRECATE, Entity.MODEL), model, before)
    return model


def delete_model(session: Session, *, actor: str, model_row_id: int) -> None:
    """Remove a model with its rules and price history. Usage rows keep their cost and model
    name; models it replaced for are left without a replacement."""
    _remove_model(session, actor, get_model(session, model_row_id=model_row_id))
    session.commit()


def price_history(session: Session, *, model_row_id: int) -> list[LLMModelPriceHistory]:
    get_model(session, model_row_id=model_row_id)
    history = LLMModelPriceHistory
    query = select(history).where(history.model_id == model_row_id)
    return list(session.scalars(query.order_by(history.effective_from, history.id)))


def _remove_model(session: Session, actor: str, model: LLMModel) -> None:
    for rule in session.scalars(select(LLMRoutingRule).where(LLMRoutingRule.model_id == model.id)):
        rows.delete_row(session, rows.Change(actor, Action.DELETE, Entity.ROUTING_RULE), rule)
    for other in session.scalars(select(LLMModel).where(LLMModel.replacement_model_id == model.id)):
        before = snapshot_row(other)
        other.replacement_model_id = None
        record_change(
            session,
            actor=actor,
            action=Action.UPDATE,
            entity_type=Entity.MODEL,
            entity_id=other.id,
            before=before,
            after=snapshot_row(other),
        )
    session.execute(delete(LLMModelPriceHistory).where(LLMModelPriceHistory.model_id == model.id))
    session.flush()
    rows.delete_row(session, rows.Change(actor, Action.DELETE, Entity.MODEL), model)
    session.flush()


def _check_provider_exists(session: Session, provider_id: int) -> None:
    if session.get(LLMProvider, provider_id) is None:
        raise NotFoundError(f"provider {provider_id} does not exist")


def _check_model_id_free(
    session: Session, provider_id: int, model_id: str, own_row_id: int | None
) -> None:
    taken = session.scalar(
        select(LLMModel.id).where(
            LLMModel.provider_id == provider_id, LLMModel.model_id == model_id
        )
    )
    if taken is not None and taken != own_row_id:
        raise ConflictError(f"provider {provider_id} already has a model {model_id!r}")


def _check_replacement(session: Session, model: LLMModel, replacement_id: int) -> None:
    replacement = session.get(LLMModel, replacement_id)
    if replacement_id == model.id:
        raise ConflictError("a model cannot replace itself")
    if replacement is None:
        raise NotFoundError(f"replacement model {replacement_id} does not exist")
    if replacement.is_deprecated:
        raise ConflictError(f"replacement model {replacement_id} is itself deprecated")
