"""The catalog: providers, models and routing rules, as an immutable in-memory snapshot."""

from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo, ProviderInfo, RuleInfo

__all__ = ["CatalogSnapshot", "ModelInfo", "ProviderInfo", "RuleInfo"]
