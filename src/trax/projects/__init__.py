"""Projects: a user's named folders of media."""
