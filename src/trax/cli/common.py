"""What every command shares: running async code, rendering errors, printing."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import anyio
import click
from rich.console import Console

from trax.errors import TraxError, from_environment

T = TypeVar("T")
FormatsCallback = Callable[[click.Context, click.Parameter, str], tuple[str, ...]]

console = Console()
err_console = Console(stderr=True)


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body; a Trax error, a full disk or an unreachable database becomes a
    one-line message and its exit code (no traceback)."""
    try:
        return anyio.run(fn)
    except TraxError as exc:
        _fail(exc)
    except Exception as exc:
        known = from_environment(exc)
        if known is None:
            raise
        _fail(known)


def _fail(exc: TraxError) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
    sys.exit(exc.exit_code)


def echo_json(text: str) -> None:
    """JSON to stdout, unstyled, so it can be piped."""
    click.echo(text)


def format_list(choices: Sequence[str]) -> FormatsCallback:
    """A click callback turning ``srt,vtt`` into ``("srt", "vtt")``, refusing unknown names."""

    def parse(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
        unknown = [f for f in chosen if f not in choices]
        if unknown or not chosen:
            raise click.BadParameter(f"choose from {', '.join(choices)} (got {value!r})")
        return chosen

    return parse


def parse_options(raw: Sequence[str]) -> dict[str, Any]:
    """Repeated ``--option KEY=VALUE`` into a dict: ``beam_size=8`` → 8 (values read as JSON when
    they parse, else kept as text). The service layer checks names and types."""
    options: dict[str, Any] = {}
    for text in raw:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint="--option")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options
