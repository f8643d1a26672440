"""The ``trax`` command line. Thin: parse, call a service, print.

Importing this package must stay cheap (``trax --help`` answers in well under a second): the ML
stack (faster_whisper, ctranslate2) and the database layer load only inside the commands that use
them. A test asserts this.
"""

from __future__ import annotations

import gc
import os
import threading

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


#: Start-up imports some 90,000 container objects (``trax list``) that all live until exit; the
#: cyclic collector finds nothing among them. It is off for this long after the script starts.
STARTUP_GC_PAUSE_SECONDS = 1.0


def entry() -> None:
    """The ``trax`` console script: :func:`main`, started and ended cheaply (ADR 0022).

    The cyclic garbage collector is paused while the command imports its modules (SQLAlchemy,
    pydantic, click, rich: ~50 ms of a 0.45 s ``trax list`` go to collections that free
    nothing) and resumes after :data:`STARTUP_GC_PAUSE_SECONDS` on a timer, or at once in a
    forked child, so no long command runs without it. At exit the same objects are frozen, so the
    interpreter's last collections skip them (~100 ms).
    """
    gc.disable()
    resume = threading.Timer(STARTUP_GC_PAUSE_SECONDS, gc.enable)
    resume.daemon = True
    resume.start()
    os.register_at_fork(after_in_child=gc.enable)
    try:
        main()
    finally:
        gc.freeze()
