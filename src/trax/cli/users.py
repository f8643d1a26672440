"""Operator commands: ``trax users create`` and ``trax apikeys create``."""

from __future__ import annotations

import click

from trax.cli.common import echo_json, err_console, run


@click.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the user administrator rights.")
@click.option("--password", help="Password for interactive login (none: API keys only).")
def create_user(email: str, admin: bool, password: str | None) -> None:
    """Create a user."""

    async def body() -> None:
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.users import service

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            user = await service.create_user(s, email, password, admin)
        err_console.print(f"created user {user.email} ({user.id})", highlight=False)

    run(body)


@click.group()
def apikeys() -> None:
    """Manage API keys."""


@apikeys.command("create")
@click.argument("email")
def create_key(email: str) -> None:
    """Create an API key for a user and print it (it is shown only this once)."""

    async def body() -> None:
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.users import service

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            key = await service.create_api_key(s, email)
        echo_json(key)

    run(body)
