"""OpenAI-compatible endpoints, so existing Whisper API clients work unchanged."""
