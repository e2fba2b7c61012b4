"""`aarshjul schema KIND`: the JSON Schema of a file aarshjul reads, on stdout.

    aarshjul schema plan > plan.schema.json

KIND is one of plan, organisation, schedule, mail, targets, postcodes, chapters
(domain/schemas.py). The same text is kept in docs/schema/<kind>.schema.json, which the
bundled files name on their first line for editors. Read-only; never imports Prefect.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import cli_kit as kit
from .domain.i18n import N_

schema_cli = typer.Typer()

_KINDS = ("plan", "organisation", "schedule", "mail", "targets", "postcodes", "chapters")


def _kind(value: str) -> str:
    if value not in _KINDS:
        raise typer.BadParameter(kit.tr("{value!r}: use one of {kinds}", value=value, kinds=", ".join(_KINDS)))
    return value


@schema_cli.command(help=N_("Print the JSON Schema of a file aarshjul reads (editors use it to complete and "
                             "check)."))
def schema(kind: Annotated[str, typer.Argument(parser=_kind, metavar="KIND",
                                               help=N_("The kind of file: plan, organisation, schedule, mail, targets, "
                                                       "postcodes, chapters."))]) -> None:
    from .domain.schemas import schema_text

    sys.stdout.write(schema_text(kind))
