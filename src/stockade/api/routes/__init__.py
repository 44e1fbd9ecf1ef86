"""Route modules: tgi (text-generation-inference), openai (chat completions), meta (health, metrics)."""
