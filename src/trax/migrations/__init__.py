"""Alembic migrations, shipped inside the package so installed copies can migrate.

``HEAD`` names the newest revision so that start-up can tell whether the schema is current with
one query and without importing Alembic; a test checks that it matches the revision files.
"""

HEAD = "8d3f1b6a2c47"
