"""Writing a pin into schedule.yaml, keeping the board's file as they wrote it.

`calendars resolve UID --keep theirs` on a placeholder a board member moved to a date in
their calendar app makes that date a pin here. The file is edited with ruamel.yaml's
round-trip mode, so comments, the order of the entries and their quoting stay; the new
values are plain data (a date, "HH:MM" times, a place) written as double-quoted YAML
scalars, which escape every character that could end or change them: text from the
CalDAV server never becomes YAML structure, a tag or an anchor. The file is replaced
atomically (a temporary file beside it, fsync, rename), and put back as it was when the
plan no longer loads with the new pin.
"""

from __future__ import annotations

import os
import tempfile
from io import StringIO
from pathlib import Path

from aarshjul.domain.sync import Proposal


def schedule_path(plan_path: Path) -> Path:
    """The schedule file plan.yaml names (`schedule:`, relative to it), or schedule.yaml beside it."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(plan_path.read_text(encoding="utf-8")) or {}
    named = data.get("schedule") if isinstance(data, dict) else None
    return plan_path.parent / (named if isinstance(named, str) and named else "schedule.yaml")


def with_pin(text: str, key: str, prop: Proposal) -> str:
    """`text` (schedule.yaml) with occurrence `key` pinned as `prop` proposes."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString as Quoted

    yaml = YAML()  # round trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long place over lines
    data = yaml.load(text) if text.strip() else None
    if data is None:
        data = CommentedMap()
    occurrences = data.get("occurrences")
    if not isinstance(occurrences, CommentedMap):
        occurrences = CommentedMap()
        data["occurrences"] = occurrences
    occurrences.fa.set_block_style()  # `occurrences: {}` becomes a block mapping with its first entry
    pin = occurrences.get(key)
    if not isinstance(pin, CommentedMap):
        pin = CommentedMap()
        occurrences[Quoted(key)] = pin
    pin.fa.set_block_style()
    pin["date"] = Quoted(prop.date.isoformat())
    for name, clock in (("start", prop.start), ("end", prop.end if prop.start else None)):
        if clock is not None:
            pin[name] = Quoted(clock.strftime("%H:%M"))
        elif name in pin:
            del pin[name]
    if prop.place:
        pin["place"] = Quoted(prop.place)
    if pin.get("status") == "cancelled":
        del pin["status"]
    out = StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def replace_file(path: Path, text: str) -> None:
    """`text` at `path`, atomically, with the old file's permissions."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
