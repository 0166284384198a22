"""Admin API: models, their prices over time, and deprecation."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Query, status

from switchboard.api.admin.schemas_catalog import (
    ModelCreate,
    ModelDeprecate,
    ModelPublic,
    ModelQuery,
    ModelUpdate,
    PricePeriodPublic,
)
from switchboard.api.deps import AdminDep, SessionDep
from switchboard.api.schemas import Page, PagingDep, RowIdPath
from switchboard.services import catalog_admin

router = APIRouter(tags=["admin: models"])


@router.get("/models")
def list_models(
    session: SessionDep, filters: Annotated[ModelQuery, Query()], paging: PagingDep
) -> Page[ModelPublic]:
    """Models by id; filter by `provider_id`, `power_level`, `is_active`, `is_deprecated`."""
    page = catalog_admin.list_models(
        session, **cast(catalog_admin.ModelFilters, filters.model_dump()), window=paging
    )
    return Page[ModelPublic].of(page, ModelPublic.model_validate, paging)


@router.post("/models", status_code=status.HTTP_201_CREATED)
def create_model(body: ModelCreate, session: SessionDep, actor: AdminDep) -> ModelPublic:
    """Add a model to a provider; its prices open its price history."""
    row = catalog_admin.create_model(session, actor=actor, fields=body.row_fields())
    return ModelPublic.model_validate(row)


@router.get("/models/{model_row_id}")
def read_model(model_row_id: RowIdPath, session: SessionDep) -> ModelPublic:
    return ModelPublic.model_validate(catalog_admin.get_model(session, model_row_id=model_row_id))


@router.patch("/models/{model_row_id}")
def update_model(
    model_row_id: RowIdPath, body: ModelUpdate, session: SessionDep, actor: AdminDep
) -> ModelPublic:
    """Change the fields given. A price change is kept in the price history: usage already
    recorded keeps the cost it was billed at."""
    row = catalog_admin.update_model(
        session, actor=actor, model_row_id=model_row_id, changes=body.row_fields()
    )
    return ModelPublic.model_validate(row)


@router.delete("/models/{model_row_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_model(model_row_id: RowIdPath, session: SessionDep, actor: AdminDep) -> None:
    """Delete a model with its routing rules (usage rows keep their cost and model name).
    To retire a model that clients still ask for, deprecate it instead."""
    catalog_admin.delete_model(session, actor=actor, model_row_id=model_row_id)


@router.post("/models/{model_row_id}/deprecate")
def deprecate_model(
    model_row_id: RowIdPath, body: ModelDeprecate, session: SessionDep, actor: AdminDep
) -> ModelPublic:
    """The spec's "Deprecate Old Model": the model leaves routing at once, and clients that ask
    for it by name are served by the replacement (which must exist and not be deprecated)."""
    row = catalog_admin.deprecate_model(
        session,
        actor=actor,
        model_row_id=model_row_id,
        replacement_model_id=body.replacement_model_id,
        deprecation_date=body.deprecation_date,
    )
    return ModelPublic.model_validate(row)


@router.get("/models/{model_row_id}/prices")
def model_price_history(model_row_id: RowIdPath, session: SessionDep) -> list[PricePeriodPublic]:
    """The model's prices over time, oldest first; the current one has no `effective_to`."""
    rows = catalog_admin.price_history(session, model_row_id=model_row_id)
    return [PricePeriodPublic.model_validate(row) for row in rows]
