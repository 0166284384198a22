"""The price sync's request and answer (`POST /catalog/sync`): the report of `price_sync`."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from switchboard.services.price_sync import SyncReport

Value = str | int | list[dict[str, Any]] | None
"""A price (a decimal string, dollars per 1M tokens), a token limit, or price tiers."""


class CatalogSyncRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"dry_run": False, "force": False}]}
    )

    dry_run: StrictBool = Field(True, description="Only report the differences (the default).")
    force: StrictBool = Field(False, description="Overwrite prices set by hand too.")


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())


class FieldChangePublic(_Public):
    column: str = Field(description="The `llm_models` column.")
    old: Value
    new: Value


class ModelChangePublic(_Public):
    model_row_id: int
    provider: str
    model_id: str
    map_key: str = Field(description="The price map's key for the model.")
    changes: list[FieldChangePublic]
    skipped: str | None = Field(description="Why it is not written (a price set by hand).")


class DeprecationPublic(_Public):
    model_row_id: int
    provider: str
    model_id: str
    deprecation_date: date
    scheduled: bool = Field(description="The date is still to come: only the date is written.")
    replacement_row_id: int | None
    replacement: str | None = Field(description="`provider/model_id` serving it from then on.")


class ModelRefPublic(_Public):
    provider: str
    model_id: str
    model_row_id: int | None = Field(description="The catalog's row, for a catalog model.")
    map_key: str | None = Field(description="The price map's key, for a model of the map.")


class CatalogSyncPublic(_Public):
    source: str
    dry_run: bool
    applied: bool
    forced: bool
    changes_to_write: int = Field(description="Price and limit changes, and deprecations.")
    providers: list[str] = Field(description="The catalog's providers the map has.")
    changes: list[ModelChangePublic]
    deprecations: list[DeprecationPublic]
    missing: list[ModelRefPublic] = Field(description="In the catalog, not in the map: retired?")
    new_models: list[ModelRefPublic] = Field(description="Chat models of known providers.")
    warnings: list[str]

    @classmethod
    def of(cls, report: SyncReport) -> CatalogSyncPublic:
        return cls.model_validate(
            {
                **{
                    name: getattr(report, name)
                    for name in cls.model_fields
                    if hasattr(report, name)
                },
                "dry_run": not report.applied,
                "changes_to_write": report.to_write,
            }
        )
