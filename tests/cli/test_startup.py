"""The CLI starts fast: importing it does not import the ML stack."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_does_not_import_the_ml_stack() -> None:
    code = (
        "import sys, trax.cli; "
        "heavy = {'faster_whisper', 'ctranslate2', 'av', 'numpy', 'sqlalchemy', 'alembic', "
        "'dramatiq', 'fastapi', 'uvicorn'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_command() -> None:
    trax = [sys.executable, "-c", "from trax.cli import main; main()"]
    out = subprocess.run([*trax, "--help"], capture_output=True, text=True, check=True).stdout
    for command in (
        "transcribe",
        "list",
        "show",
        "export",
        "models",
        "jobs",
        "worker",
        "serve",
        "db",
    ):
        assert f"  {command} " in out


def test_library_commands_do_not_import_the_web_or_cloud_stack() -> None:
    """``trax list`` / ``show`` / ``jobs`` need the database, not FastAPI, httpx or boto3."""
    code = (
        "import sys, trax.cli.library, trax.cli.jobs, trax.runtime; "
        "import trax.transcripts.service, trax.jobs.service, trax.media.service; "
        "heavy = {'fastapi', 'starlette', 'uvicorn', 'httpx', 'boto3', 'dramatiq', "
        "'faster_whisper', 'ctranslate2'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
