"""Trax: media in, transcripts out."""
