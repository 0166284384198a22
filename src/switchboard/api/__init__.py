"""The HTTP surfaces: OpenAI- and Anthropic-compatible APIs, health; `app.create_app`."""
