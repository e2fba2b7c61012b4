"""`aarshjul init DIR --name NAME [--lang nb|en] [--zone ZONE] [--id ID]`: a new organisation's files.

Writes into DIR (made if missing) a small, commented plan that `aarshjul check` accepts
as it is: plan.yaml, organisation.yaml, schedule.yaml, mail.yaml, targets.yaml,
postcodes.yaml, content/README.md (in English also templates/email/newsletter.*.j2: the
bundled newsletter template is Norwegian), and schema/<kind>.schema.json, which the first line
of each YAML file names so that editors complete and check it. The templates are in
templates/init/<lang>/; the values (the name may hold quotes, colons, `#`, any letters)
are written by the YAML emitter (domain/scaffold.py), never pasted in as text.

Nothing is overwritten: if one of the files exists, nothing is written and the command
exits 2 naming it. Never imports Prefect. docs/getting-started.md goes on from here.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import cli_kit as kit
from .domain import i18n
from .domain.i18n import N_

init_cli = typer.Typer()

# the command's sentences, as msgids (said with kit.tr in the command's language)
_TEXT = {
    "name": N_("--name cannot be empty"),
    "zone": N_("--zone {zone!r} is not a known time zone; use an IANA name like Europe/Oslo"),
    "id": N_("--id {id!r}: use lower-case letters a-z, digits, - and _, beginning with a letter or a digit"),
    "exists": N_("{file} exists already; nothing was written (choose another folder, or move the file)"),
    "notdir": N_("{dir} is not a folder"),
    "wrote": N_("Wrote {n} files for {name} in {dir}:"),
    "next": N_("Next: aarshjul check --plan {plan}   (see docs/getting-started.md)"),
    "oserror": N_("cannot write {path}: {reason}; nothing was written (choose a folder you can write to)"),
}


@init_cli.command(help=N_("Write a new organisation's plan files, commented and valid at once."))
def init(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help=N_("The folder for the files (made if missing)."))],
    name: Annotated[str, typer.Option("--name", help=N_("The organisation's name, as people write it."))],
    zone: Annotated[str, typer.Option("--zone", help=N_("The organisation's time zone (IANA)."))] = "Europe/Oslo",
    ident: Annotated[Optional[str], typer.Option(
        "--id", help=N_("The organisation's id in UIDs and addresses (default: made from the name)."))] = None,
    today: kit.Today = None, lang: kit.Lang = None,
) -> None:
    import re
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from .domain.scaffold import SCHEMA_FOLDER, Answers, files, render, slug
    from .domain.schemas import file_name, schema_text

    lang = kit.lang(lang)
    text = {k: i18n._(lang, v) for k, v in _TEXT.items()}
    if not name.strip():
        kit.fail(text["name"])
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        kit.fail(text["zone"].format(zone=zone))
    org_id = ident if ident is not None else slug(name)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", org_id):
        kit.fail(text["id"].format(id=org_id))
    if folder.exists() and not folder.is_dir():
        kit.fail(text["notdir"].format(dir=folder))

    source = resources.files("aarshjul.templates").joinpath("init", lang)
    wanted = files(lang)
    templates = {out: source.joinpath(template).read_text(encoding="utf-8") for out, (template, _) in wanted.items()}
    written = render(templates, Answers(name.strip(), org_id, lang, zone, kit.today(today) or date.today()))
    for kind in sorted({k for _, k in wanted.values() if k}):
        written[f"{SCHEMA_FOLDER}/{file_name(kind)}"] = schema_text(kind)
    for relative in written:
        if (folder / relative).exists() or (folder / relative).is_symlink():
            kit.fail(text["exists"].format(file=folder / relative))
    _write(folder, written, text)
    kit.ok(text["wrote"].format(n=len(written), name=name.strip(), dir=folder))
    for relative in written:
        kit.say("  ", str(folder / relative))
    kit.say(text["next"].format(plan=folder / "plan.yaml"))


def _write(folder: Path, written: dict[str, str], text: dict[str, str]) -> None:
    """Write every file, or none: on an OSError (no permission, a file where a folder must
    be, a full disk) the files and folders made so far are removed again, and the error is
    one line (exit 2; 3 when the storage itself fails)."""
    import errno
    import shutil

    from .domain.errors import BadInput, ServiceError

    made: list[Path] = []  # files and folders this run created, in order
    try:
        for relative, content in written.items():
            target = folder / relative
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            made.extend(reversed(missing))
            with target.open("x", encoding="utf-8", newline="\n") as f:  # "x": never over a file made meanwhile
                made.append(target)
                f.write(content)
    except OSError as exc:
        for path in reversed(made):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        message = text["oserror"].format(path=exc.filename or folder, reason=exc.strerror or type(exc).__name__)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
            raise ServiceError(message) from None
        raise BadInput(message) from None
