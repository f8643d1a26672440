"""Searching the library: every segment of every transcript's current version, indexed."""
