"""Switchboard: a multi-tenant LLM gateway.

The spec's Python API: `LLMRoutingEngine` here, the tables in `switchboard.models`,
`open_database` in `switchboard.db`, `get_secret_manager` in `switchboard.secrets`.

`LLMRoutingEngine` and `RouteChoice` are imported on first use: every `switchboard` command
imports this package first, before it can set up anything (`python -m switchboard` keeps the
garbage collector out of its imports; see `__main__`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchboard.engine import LLMRoutingEngine, RouteChoice

__version__ = "0.1.0"

__all__ = ["LLMRoutingEngine", "RouteChoice", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("LLMRoutingEngine", "RouteChoice"):
        from switchboard import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'switchboard' has no attribute {name!r}")
