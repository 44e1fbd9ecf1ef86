"""Access control (L3): passwords, JWT, API keys, IP allowlist, rate limits, internal CA, nginx config."""
