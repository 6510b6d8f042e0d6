"""Who may call the service and how often: API keys, JWT session tokens, rate limits."""
