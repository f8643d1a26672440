"""``trax costs``: what the stored transcripts cost, per model, stage and project."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from trax.cli.common import console, echo_json, run

if TYPE_CHECKING:
    from trax.costs.schemas import CostLine


@click.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="Only versions made at or after this date or time (UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def costs(since: datetime | None, as_json: bool) -> None:
    """Show what transcripts cost: compute (CPU seconds at TRAX_CPU_HOUR_USD) and LLM tokens
    (at the model's price), in all and per model, stage and project.

    \b
    Examples:
      trax costs
      trax costs --since 2026-11-01 --json
    """

    async def body() -> None:
        from trax.config import get_settings
        from trax.costs import service
        from trax.runtime import open_runtime

        settings = get_settings()
        async with open_runtime(settings) as rt, rt.db.session() as s:
            report = await service.report(s, settings.cpu_hour_usd, since=since)
        if as_json:
            echo_json(report.model_dump_json(indent=2))
            return
        from rich import box

        from trax.cli.tables import fitted_table

        table = fitted_table(box.SIMPLE_HEAD)
        for col in ("by", "name", "versions", "cpu", "compute", "llm", "tokens in/out", "total"):
            table.add_column(col, no_wrap=True, overflow="ellipsis")
        groups = (("model", report.by_model), ("stage", report.by_stage),
                  ("project", report.by_project))  # fmt: skip
        for group, lines in groups:
            for line in lines:
                table.add_row(group, *_cells(line, "(none)"))
            table.add_section()
        table.add_row("total", *_cells(report.total, ""))
        console.print(table)

    run(body)


def _cells(line: CostLine, unnamed: str) -> list[str]:
    return [
        line.key if line.key is not None else unnamed,
        str(line.versions),
        f"{line.cpu_seconds:.1f}s",
        f"${line.compute_usd:.6f}",
        f"${line.llm_usd:.6f}",
        f"{line.prompt_tokens}/{line.completion_tokens}",
        f"${line.total_usd:.6f}",
    ]
