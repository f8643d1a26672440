"""Media: stored input files and what they hold."""
