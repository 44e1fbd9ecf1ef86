"""The HTTP API (L4): TGI- and OpenAI-compatible routes over a serving engine. Thin: no state changes."""
