"""The ``trax`` command line. Thin: parse, call a service, print.

Importing this package must stay cheap (``trax --help`` answers in well under a second): the ML
stack (faster_whisper, ctranslate2) and the database layer load only inside the commands that use
them. A test asserts this.
"""

from __future__ import annotations

import click

from trax.cli.costs import costs
from trax.cli.delete import delete
from trax.cli.jobs import jobs_group
from trax.cli.library import db, diff, export, list_command, models, show
from trax.cli.refine import refine
from trax.cli.render import render
from trax.cli.search import search
from trax.cli.serve import serve
from trax.cli.speakers import speakers
from trax.cli.transcribe import transcribe
from trax.cli.users import apikeys, users
from trax.cli.worker import worker
from trax.logs import configure


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trax")
def main() -> None:
    """Trax turns audio and video into stored, searchable transcripts and captions.

    Data lives under TRAX_DATA_DIR (a SQLite database and media storage) unless
    TRAX_DATABASE_URL names another database.
    """
    configure()


for command in (
    transcribe,
    list_command,
    search,
    show,
    export,
    refine,
    speakers,
    render,
    diff,
    costs,
    delete,
    models,
    jobs_group,
    worker,
    serve,
    users,
    apikeys,
    db,
):
    main.add_command(command)
