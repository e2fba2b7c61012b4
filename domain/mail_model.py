"""mail.yaml: who sends what to whom, and when.

    sender: the organisation's From address and domain (Message-ID, List-Id)
    unsubscribe: the https endpoint and mailto address for RFC 8058 one-click unsubscribe
    reminders: lead times before an obligation falls due
    newsletters: id, audience, schedule (an RRULE in the organisation's zone), template
    batch_size, rate_per_second: how much at a time over one connection, how fast
    max_failure_ratio: the share of a run's recipients that may be refused (5xx at RCPT or
        DATA, an address that cannot be sent) before the edition pauses, judged once 50
        recipients were answered for (default 0.5: more than half refused is implausible,
        more likely our fault, e.g. a relay that refuses us, than theirs; 1 never pauses).
        Below it a refusal fails that recipient's row only and the edition goes on; at the
        pause this run's refused rows go back to pending, to be tried again
    bounces: the base of every message's VERP envelope sender (bounce@… -> bounce+<token>@…),
        the folder processed reports go to, and when soft bounces suspend (domain/bounces.py)
    max_failures_in_a_row: how many failures of the mail server itself in a row pause the
        edition (default 20): the sender refused (5xx at MAIL FROM), a 4xx at MAIL FROM or
        DATA, a 421, the connection lost. Their rows stay pending, never failed; a refused
        recipient neither counts nor pauses (it used to count them too)

A paused edition exits 3 with the counts of the run and of the edition (sent, failed,
pending); the next run sends what is pending.

An edition of a newsletter has a key: `medlemsbrev/2026-02`, or for a newsletter sent
to each branch on its own, `hva-skjer/arna/2026-02`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PositiveInt, model_validator

from .bounces import BounceConfig
from .model import RRule, Slug, Strict, Email

Domain = Annotated[str, Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")]


class Sender(Strict):
    name: str
    """The name in the From line."""
    address: Email
    """The address in the From line."""
    domain: Domain  # for Message-ID and List-Id
    """The domain of Message-ID and List-Id."""


class UnsubscribeConfig(Strict):
    url: Annotated[str, Field(pattern=r"^https://.*\{token\}")]
    """The https address of one-click unsubscribe (RFC 8058), with {token}."""
    mailto: Email
    """The address that unsubscribes by mail."""


class Reminders(Strict):
    lead_days: Annotated[list[PositiveInt], Field(min_length=1)] = [21, 7]  # before a pinned occurrence
    """Remind the bodies responsible this many days before a pinned occurrence."""
    unscheduled_days: Annotated[list[PositiveInt], Field(min_length=1)] = [30, 14]  # before a slot's window closes
    """... and this many days before an unpinned slot's window closes."""
    overdue: bool = True  # once, when a deadline has passed without a completion
    """Remind once when a deadline has passed unrecorded."""


class Audience(Strict):
    """Who receives it: all members, one branch, the holders of a role, or each branch apart."""

    all: bool = False
    branch: Slug | None = None
    role: Slug | None = None
    each_branch: bool = False

    @model_validator(mode="after")
    def _one(self) -> "Audience":
        if sum([self.all, self.branch is not None, self.role is not None, self.each_branch]) != 1:
            raise ValueError("give exactly one of all: true, branch: ID, role: ID, each_branch: true")
        return self


class Newsletter(Strict):
    id: Slug
    name: str
    measure: str | None = None  # the measure a sent edition counts towards (1.7)
    """The measure a sent edition counts towards, in quotes: "1.2"."""
    audience: Audience
    schedule: RRule  # e.g. FREQ=MONTHLY;BYDAY=-1TH: the day an edition is due
    """An RFC 5545 RRULE: the days an edition is due, like FREQ=MONTHLY;BYDAY=-1TH."""
    send_within_days: PositiveInt = 7  # a missed edition is still sent this many days late, not later
    """A missed edition is still sent this many days late, not later."""
    template: Slug  # templates/email/<template>.html.j2 and .txt.j2
    """The template: templates/email/NAME.html.j2 and .txt.j2 (the organisation's own first)."""
    subject: str  # a Jinja expression's text: "Medlemsbrev {{ month }}"
    """The subject; may name {{ month }}, {{ organisation }}, {{ newsletter }}, {{ branch_name }}, {{ edition }}."""
    sender: Slug | None = None  # a body: its name in From, its contact in Reply-To
    """A body: its name in From, its contact in Reply-To."""
    content: str | None = None  # Markdown file, relative to the plan folder; {edition} is filled in
    """The edition's Markdown, relative to the plan's folder; {edition} is YYYY-MM. Sent only when it exists."""


def _unique_ids(items: list[Newsletter]) -> list[Newsletter]:
    ids = [n.id for n in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"newsletter ids used more than once: {', '.join(duplicates)}")
    return items


class MailFile(Strict):
    sender: Sender
    unsubscribe: UnsubscribeConfig
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 200
    """Messages sent over one connection at a time."""
    rate_per_second: Annotated[float, Field(gt=0)] = 50.0
    """At most this many messages a second."""
    max_failures_in_a_row: PositiveInt = 20  # failures of the mail server in a row (not refused recipients)
    max_failure_ratio: Annotated[float, Field(gt=0, le=1)] = 0.5  # refused share of a run that pauses it
    reminders: Reminders = Reminders()
    newsletters: Annotated[list[Newsletter], AfterValidator(_unique_ids)] = []
    invitations: Literal["off", "bodies"] = "bodies"  # iMIP invitations to a body's members for its meetings
    """bodies: iMIP invitations to a body's members for its meetings; off: none."""
    bounces: BounceConfig | None = None  # the VERP envelope senders and the bounce rules (domain/bounces.py)

    @property
    def bounce_address(self) -> str | None:
        """The base of every message's envelope sender (bounce+<token>@…), when bounces are handled."""
        return self.bounces.address if self.bounces else None
