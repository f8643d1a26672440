"""The CLI starts fast: importing it does not import the ML stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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


def _fresh_env(data_dir: Path) -> dict[str, str]:
    """This process's environment without any ``TRAX_`` setting, on an empty data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
    return {**env, "TRAX_DATA_DIR": str(data_dir)}


def test_trax_list_loads_only_what_it_uses(tmp_path: Path) -> None:
    """``trax list`` on a current database: no web stack, no migrations, no ML stack, no S3
    client and no stemmer (ADR 0019: each of these cost start-up time for nothing)."""
    env = _fresh_env(tmp_path / "data")
    trax = [sys.executable, "-c", "from trax.cli import main; main()"]
    subprocess.run([*trax, "list"], env=env, capture_output=True, check=True)  # migrates
    code = (
        "import sys\n"
        "from trax.cli import main\n"
        "try:\n    main(['list'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'fastapi', 'starlette', 'uvicorn', 'alembic', 'faster_whisper', 'ctranslate2',\n"
        "         'numpy', 'dramatiq', 'botocore', 'boto3', 'httpx', 'snowballstemmer'}\n"
        "print(sorted(heavy & set(sys.modules)), file=sys.stderr)\n"
    )
    cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "no transcripts yet" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == "[]"


def test_the_console_script_lists_and_a_long_command_gets_the_collector_back(
    tmp_path: Path,
) -> None:
    """The ``trax`` script pauses the cyclic garbage collector while it starts (ADR 0022): a
    command that outlives the pause, and a process it forks, must run with it on again."""
    env = _fresh_env(tmp_path / "data")
    script = Path(sys.executable).with_name("trax")
    listed = subprocess.run([script, "list"], env=env, capture_output=True, text=True, check=True)
    assert "no transcripts yet" in listed.stdout
    code = (
        "import gc, os, sys, time\n"
        "import click\n"
        "import trax.cli\n"
        "@trax.cli.main.command('probe')\n"
        "def probe() -> None:\n"
        "    child = os.fork()\n"
        "    if child == 0:\n"
        "        os._exit(0 if gc.isenabled() else 3)\n"
        "    forked_ok = os.waitpid(child, 0)[1] == 0\n"
        "    deadline = time.monotonic() + 30\n"
        "    while not gc.isenabled() and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n"
        "    click.echo(f'forked child {forked_ok}, later {gc.isenabled()}')\n"
        "sys.argv = ['trax', 'probe']\n"
        "trax.cli.entry()\n"
    )
    cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "forked child True, later True"
