"""One run at a time: a decorator for flows that send or write for a chapter.

    @flow(name="send-newsletter")
    @single_run("send-newsletter", empty=list)
    def send_newsletter(newsletter, edition=None, plan_path="config/plan.yaml", today=None): ...

A run that finds another run of the same flow for the same chapter in progress logs
why and exits cleanly with `empty()`, sending nothing.
"""

from __future__ import annotations

import functools
import inspect
import typing
from contextlib import ExitStack
from typing import Callable

from prefect import get_run_logger

from aarshjul.db.locks import Busy, exclusive
from aarshjul.db.migrate import upgrade
from aarshjul.domain.load import load_plan
from aarshjul.settings import get_settings


@functools.lru_cache(maxsize=8)
def _migrated(url: str) -> None:
    """Migrate a database once per process (every guarded flow needs the lock table)."""
    upgrade(url)


def single_run(kind: str, empty: Callable[[], object]):
    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            organisation = load_plan(bound.arguments["plan_path"]).organisation.id
            url = get_settings().database_url
            _migrated(url)
            with ExitStack() as stack:
                try:
                    stack.enter_context(exclusive(url, f"{kind}:{organisation}"))
                except Busy as exc:
                    get_run_logger().warning("%s for %s: %s; this run exits without doing anything",
                                             kind, organisation, exc)
                    return empty()
                return fn(*args, **kwargs)

        # Prefect builds the parameter schema from the signature: give it real types, not
        # the strings of `from __future__ import annotations`, which it would look up here.
        wrapper.__signature__ = inspect.signature(fn, eval_str=True)
        wrapper.__annotations__ = {k: v for k, v in typing.get_type_hints(fn).items()}
        return wrapper

    return decorate
