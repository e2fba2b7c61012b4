"""What the web service (aarshjul web) stores beyond the ledger and the completion log.

    remove_unsubscribe  undo an unsubscribe (the page's "meld meg på igjen")
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from .models import Unsubscribe


def remove_unsubscribe(session: Session, organisation: str, audience: str, recipient: str) -> bool:
    """The member is on the list again; True if an unsubscribe was removed."""
    result = session.execute(delete(Unsubscribe).where(
        Unsubscribe.organisation == organisation, Unsubscribe.audience == audience,
        Unsubscribe.recipient == recipient))
    session.flush()
    return bool(getattr(result, "rowcount", 0))
