"""Who is in an audience: the members a newsletter goes to (number and address only),
and the few member fields a message to a member or a branch needs."""

from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from .bounces import without_suspended
from .models import Member


def audience_candidates(session: Session, organisation: str, audience: dict[str, Any],
                        suspended: list[str] | None = None) -> Iterator[tuple[str, str | None]]:
    """(member number, e-mail) of active, not forgotten members in the audience, streamed
    in member-number order. audience: {"all": True} | {"branch": id} | {"role": id}.
    Members whose address is suspended are left out (their numbers go to `suspended`)."""
    query = select(Member.number, Member.email).where(
        Member.organisation == organisation, Member.status == "active", Member.forgotten_at.is_(None))
    if audience.get("branch"):
        query = query.where(Member.branch == audience["branch"])
    elif audience.get("role"):
        role = audience["role"]
        query = query.where((Member.roles == role) | Member.roles.like(f"{role},%") | Member.roles.like(f"%,{role}")
                            | Member.roles.like(f"%,{role},%"))
    elif not audience.get("all"):
        raise ValueError(f"unknown audience {audience!r}")
    rows = ((n, e) for n, e in session.execute(query.order_by(Member.number).execution_options(yield_per=1000)))
    yield from without_suspended(session, organisation, rows, suspended)  # bounced addresses get none (db/bounces.py)


def member_names(session: Session, organisation: str, numbers: list[str]) -> dict[str, tuple[str, str]]:
    """member number -> (first name, last name), for the members among `numbers`."""
    rows = session.execute(select(Member.number, Member.first_name, Member.last_name).where(
        Member.organisation == organisation, Member.number.in_(numbers))).all()
    return {number: (first or "", last or "") for number, first, last in rows}


def members_by_number(session: Session, organisation: str, numbers: list[str]) -> dict[str, Member]:
    return {m.number: m for m in session.scalars(select(Member).where(
        Member.organisation == organisation, Member.number.in_(numbers)))}


def unpaid_members(session: Session, organisation: str) -> list[Member]:
    """Active, not forgotten members whose dues are not paid, in member-number order; not
    those whose address is suspended after bounces (db/bounces.py)."""
    members = list(session.scalars(select(Member).where(
        Member.organisation == organisation, Member.status == "active",
        Member.forgotten_at.is_(None), Member.dues_paid.is_(False)).order_by(Member.number)))
    keep = {number for number, _ in without_suspended(session, organisation, ((m.number, m.email) for m in members))}
    return [m for m in members if m.number in keep]
