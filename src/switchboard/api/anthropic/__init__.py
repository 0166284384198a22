"""The Anthropic-compatible surface: `/v1/messages`."""
