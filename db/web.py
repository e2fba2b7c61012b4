"""What the web service (aarshjul web) stores beyond the ledger and the completion log.

    remove_unsubscribe  undo an unsubscribe (the page's "meld meg på igjen")
    holds_role          whether a member answering "was it held?" still holds a responsible role
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import Member, Unsubscribe


def remove_unsubscribe(session: Session, organisation: str, audience: str, recipient: str) -> bool:
    """The member is on the list again; True if an unsubscribe was removed."""
    result = session.execute(delete(Unsubscribe).where(
        Unsubscribe.organisation == organisation, Unsubscribe.audience == audience,
        Unsubscribe.recipient == recipient))
    session.flush()
    return bool(getattr(result, "rowcount", 0))


def holds_role(session: Session, organisation: str, member: str, bodies: tuple[str, ...]) -> bool:
    """Whether an active, not forgotten member holds the role of one of `bodies` now (as
    the invitations and the answer links' mail find role holders)."""
    row = session.scalar(select(Member).where(Member.organisation == organisation, Member.number == member,
                                              Member.status == "active", Member.forgotten_at.is_(None)))
    if row is None or not row.roles:
        return False
    return bool(set(r.strip() for r in row.roles.split(",")) & set(bodies))
