"""The ML pipeline as plain library code: decode, VAD, ASR. No web or database imports.

Heavy modules (faster_whisper, ctranslate2) are imported inside the functions that need them, so
that importing :mod:`trax.engine` stays cheap for the CLI.
"""
