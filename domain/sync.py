"""Planning a CalDAV sync: what to write, given what we want and what we last pushed.

Pure. For one calendar, compare the desired events (uid -> content and its hash) with
the state recorded after the last push (uid -> href, ETag, hash, conflict):

    desired, never pushed (or deleted since)     create   PUT  If-None-Match: *
    desired, pushed with another hash            update   PUT  If-Match: <etag>
    desired, pushed with the same hash           nothing
    pushed, no longer desired                    delete   DELETE  If-Match: <etag>
    in conflict (a person edited it on the server since our push)   left alone

So a sync with nothing changed writes nothing, and k changed events make k writes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Desired:
    uid: str
    key: str
    ics: bytes
    hash: str
    cancelled: bool = False


@dataclass(frozen=True)
class Pushed:
    uid: str
    href: str
    etag: str | None
    hash: str
    conflict: bool = False
    gone: bool = False


@dataclass(frozen=True)
class Action:
    kind: str  # create | update | delete
    uid: str
    desired: Desired | None = None
    pushed: Pushed | None = None


@dataclass(frozen=True)
class SyncPlan:
    actions: list[Action]
    unchanged: int
    conflicts: list[str]  # uids left alone


def plan_sync(desired: dict[str, Desired], pushed: dict[str, Pushed]) -> SyncPlan:
    actions: list[Action] = []
    unchanged = 0
    conflicts: list[str] = []
    for uid, want in desired.items():
        have = pushed.get(uid)
        if have is None or have.gone:
            actions.append(Action("create", uid, want, have))
        elif have.conflict:
            conflicts.append(uid)
        elif have.hash != want.hash:
            actions.append(Action("update", uid, want, have))
        else:
            unchanged += 1
    for uid, have in pushed.items():
        if uid in desired or have.gone:
            continue
        if have.conflict:
            conflicts.append(uid)
        else:
            actions.append(Action("delete", uid, None, have))
    return SyncPlan(actions, unchanged, sorted(conflicts))
