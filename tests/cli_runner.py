"""The CLI run in this process, as a person would run it: exit status, stdout and stderr."""

from __future__ import annotations

from aarshjul.cli import main
from aarshjul.settings import get_settings


def invoke(capsys, *args: str) -> tuple[int, str, str]:
    """Run `aarshjul ARGS` with the environment as it is now; settings are read afresh."""
    get_settings.cache_clear()
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
