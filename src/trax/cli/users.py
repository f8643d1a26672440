"""Operator commands: ``trax users create|list`` and ``trax apikeys create|list|revoke``."""

from __future__ import annotations

import click

from trax.cli.common import console, echo_json, err_console, run

NO_USERS = "no users yet: run `trax users create EMAIL`"
NO_KEYS = "no API keys: run `trax apikeys create EMAIL`"


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


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_users(as_json: bool) -> None:
    """List users, oldest first, with their number of API keys."""

    async def body() -> None:
        from pydantic import TypeAdapter
        from rich import box

        from trax.cli.tables import fitted_table
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.users import service
        from trax.users.schemas import UserSummary

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            found = await service.list_users(s)
        if as_json:
            echo_json(TypeAdapter(list[UserSummary]).dump_json(found, indent=2).decode())
            return
        table = fitted_table(box.SIMPLE_HEAD)
        table.add_column("email", overflow="ellipsis", no_wrap=True, width=16, ratio=1)
        for col in ("admin", "created", "api keys"):
            table.add_column(col, no_wrap=True)
        for u in found:
            created = u.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            table.add_row(u.email, "yes" if u.is_admin else "", created, str(u.api_keys))
        console.print(table if found else NO_USERS, highlight=False)

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


@apikeys.command("list")
@click.argument("email", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_keys(email: str | None, as_json: bool) -> None:
    """List the API keys of a user (default: every user's); the keys themselves are never shown.

    A key is known by its id and by the first characters of the key (its prefix).
    """

    async def body() -> None:
        from pydantic import TypeAdapter
        from rich import box

        from trax.cli.tables import fitted_table
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.users import service
        from trax.users.schemas import ApiKeyView

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            found = await service.list_api_keys(s, email)
        if as_json:
            echo_json(TypeAdapter(list[ApiKeyView]).dump_json(found, indent=2).decode())
            return
        table = fitted_table(box.SIMPLE_HEAD)
        for col in ("id", "prefix"):
            table.add_column(col, no_wrap=True)
        table.add_column("email", overflow="ellipsis", no_wrap=True, width=12, ratio=1)
        for col in ("created", "last used"):
            table.add_column(col, no_wrap=True)
        for k in found:
            used = k.last_used_at.astimezone().strftime("%Y-%m-%d %H:%M") if k.last_used_at else ""
            created = k.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            table.add_row(k.id[:8], f"{k.prefix}…", k.email, created, used)
        console.print(table if found else NO_KEYS, highlight=False)

    run(body)


@apikeys.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke an API key by its id (or a unique prefix of it): the API refuses it from now on."""

    async def body() -> None:
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.users import service

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            key = await service.revoke_api_key(s, key_id)
        err_console.print(
            f"revoked API key {key.id} ({key.prefix}…) of {key.email}", highlight=False
        )

    run(body)
