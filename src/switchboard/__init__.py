"""Switchboard: a multi-tenant LLM gateway.

The spec's Python API: `LLMRoutingEngine` here, the tables in `switchboard.models`,
`open_database` in `switchboard.db`, `get_secret_manager` in `switchboard.secrets`.
"""

from switchboard.engine import LLMRoutingEngine, RouteChoice

__version__ = "0.1.0"

__all__ = ["LLMRoutingEngine", "RouteChoice", "__version__"]
