"""Transcripts and their versions (one per pipeline stage)."""
