"""Alembic migrations, shipped inside the package so installed copies can migrate.

``HEAD`` names the newest revision so that start-up can tell whether the schema is current with
one query and without importing Alembic; a test checks that it matches the revision files.
"""

HEAD = "e7a2c4d9b1f0"
