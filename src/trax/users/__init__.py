"""Users and their API keys (shown once, stored hashed)."""
