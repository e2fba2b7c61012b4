"""What the board has been asked: the days each role holder was mailed their answer links
(the ledger's `confirm/DAY/MEMBER` campaigns, tasks/report.py mail_confirm_links)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Delivery

PREFIX = "confirm/"


def last_asked(session: Session, organisation: str) -> dict[str, date]:
    """member number -> the last day a "was it held?" mail went to them (failed ones not counted)."""
    rows = session.execute(select(Delivery.campaign, Delivery.recipient).where(
        Delivery.organisation == organisation, Delivery.campaign.like(PREFIX + "%"), Delivery.state != "failed"))
    out: dict[str, date] = {}
    for campaign, recipient in rows:
        try:
            day = date.fromisoformat(campaign.split("/")[1])
        except (IndexError, ValueError):
            continue
        if recipient not in out or day > out[recipient]:
            out[recipient] = day
    return out
