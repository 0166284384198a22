"""The gateway: where a route plan meets I/O (keys, provider calls, cooldowns, usage)."""
