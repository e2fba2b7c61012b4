"""Who is in an audience: the members a newsletter goes to (number and address only)."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Member


def audience_candidates(session: Session, organisation: str, audience: dict) -> Iterator[tuple[str, str | None]]:
    """(member number, e-mail) of active, not forgotten members in the audience, streamed
    in member-number order. audience: {"all": True} | {"branch": id} | {"role": id}."""
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
    yield from session.execute(query.order_by(Member.number).execution_options(yield_per=1000))
