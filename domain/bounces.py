"""Bounces: an address per message that names it (VERP), and what a bounce report says.

Every message is sent with an envelope sender (MAIL FROM, the Return-Path the receiving
server keeps) of its own, `bounce+<token>@<domain>`, built from mail.yaml's
`bounces.address` (`bounce@example.org`). A report of a failed delivery
(a DSN, RFC 3464) is addressed to that envelope sender (RFC 5321 §4.5.5), so the token in
the address it arrives at says which message, and so which ledger row and member, failed.

The token (`bounce_token`) is the ledger row's id and a check value, 8 bytes each,
encrypted as one AES-256 block (a pseudorandom permutation) under a key derived with
HMAC-SHA256 from the installation's secret, as the unsubscribe tokens' keys are
(domain/messages.py), and written in lower-case base32: 26 characters. Not the
unsubscribe tokens' AES-GCM format: a local part holds at most 64 octets (RFC 5321
§4.5.3.1.1) and relays may change its case, so the token is short and case-free. Nobody
without the secret can read which message a token names or make a token that reads as
genuine: the check value is an HMAC of the organisation, so a token altered, forged or
made for another organisation passes with chance 2^-64; and each token has one spelling
(base32's two spare bits must be zero). The same row gives the same address every time,
so a message sent again after a crash is the same message.

A report is classified (`classify`) by its delivery-status fields (RFC 3464 §2.3: Action,
Status) where it has them, else by Mailman's bounce detectors (flufl.bounce), which read
the formats of MTAs that write no DSN (Exim's, qmail's, old webmail):

    hard    Action: failed with a Status 5.x.x (RFC 3463: permanent), but those under soft;
            or a detector's permanent failure: the address does not work
    soft    Action: delayed, a Status 4.x.x (persistent transient); 5.2.2 (mailbox full),
            5.3.4 (message too big) and 5.7.x (refused by policy: a spam filter, a block
            list with our server on it), permanent by their code but no fault of the
            address; or a detector's temporary failure
    other   addressed to a token but no failure: a positive DSN (delivered, relayed,
            expanded), an auto-reply; recorded and filed away, nothing suspended

What follows (`suspension`): one hard bounce suspends the address at once; `soft_limit`
(3) soft bounces of different messages within `soft_days` (30) suspend it too. Several
delay warnings about one message count once.
"""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt

from .model import Email, Strict

Kind = Literal["hard", "soft", "other"]
FOLDER = "aarshjul-behandlet"  # where processed reports are moved (never deleted)


class BounceConfig(Strict):
    """mail.yaml `bounces:`: the base address of the envelope senders, and the rules.

        bounces:
          address: bounce@example.org             # MAIL FROM bounce+<token>@example.org
          folder: aarshjul-behandlet              # processed reports go here
          soft_limit: 3                           # soft bounces of different messages ...
          soft_days: 30                           # ... within this many days suspend
    """

    address: Email
    folder: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f*%\"\\]+$")] = FOLDER
    soft_limit: PositiveInt = 3
    soft_days: PositiveInt = 30


# --- the token ---------------------------------------------------------------------------

_TOKEN = re.compile(r"^[a-z2-7]{26}$")


@lru_cache(maxsize=16)
def _keys(secret: bytes, organisation: str) -> tuple[bytes, bytes]:
    """(AES-256 key, 8-byte check value), both derived from the installation's secret."""
    key = hmac.new(secret, b"aarshjul bounce token v1: AES-256 key", hashlib.sha256).digest()
    check = hmac.new(secret, b"aarshjul bounce token v1: check\0" + organisation.encode(), hashlib.sha256).digest()
    return key, check[:8]


@lru_cache(maxsize=16)
def _cipher(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    # ECB on exactly one block is the block cipher itself: a keyed permutation of 16 bytes
    return Cipher(algorithms.AES(key), modes.ECB())


def _block(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    cipher = _cipher(key)  # a context per call: the mailer's sender threads share the Cipher, not a context
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return bytes(op.update(data) + op.finalize())


def bounce_token(secret: bytes, organisation: str, delivery_id: int) -> str:
    """The opaque token of one ledger row: 26 characters of lower-case base32."""
    if not 0 <= delivery_id < 2 ** 63:
        raise ValueError("a ledger row id is a non-negative 63-bit integer")
    key, check = _keys(secret, organisation)
    sealed = _block(key, check + delivery_id.to_bytes(8, "big"))
    return base64.b32encode(sealed).decode("ascii").rstrip("=").lower()


def read_bounce_token(secret: bytes, organisation: str, token: str) -> int | None:
    """The ledger row id a token names, or None when it is not one of ours (malformed,
    altered, made with another secret or for another organisation)."""
    token = token.strip().lower()
    if not _TOKEN.match(token):
        return None
    sealed = base64.b32decode(token.upper() + "======")
    if base64.b32encode(sealed).decode("ascii").rstrip("=").lower() != token:
        return None  # the last character's two spare bits set: one token, one spelling
    key, check = _keys(secret, organisation)
    plain = _block(key, sealed, decrypt=True)
    if not hmac.compare_digest(plain[:8], check):
        return None
    return int.from_bytes(plain[8:], "big")


def verp_address(secret: bytes, organisation: str, delivery_id: int, base: str) -> str:
    """The envelope sender of one message: `bounce@example.org` -> `bounce+<token>@example.org`."""
    local, _, domain = base.rpartition("@")
    if not local or not domain:
        raise ValueError("the bounce address needs a local part and a domain")
    return f"{local}+{bounce_token(secret, organisation, delivery_id)}@{domain}"


def envelope_sender(secret: bytes, organisation: str, delivery_id: int, base: str | None, from_address: str) -> str:
    """MAIL FROM for one message: its VERP address when mail.yaml names a bounce address,
    else the From address (bounces then reach whoever reads that mailbox)."""
    return verp_address(secret, organisation, delivery_id, base) if base else from_address


def tokens_in(text: str, base: str) -> list[str]:
    """The tokens of every `local+TOKEN@domain` of `base` in `text` (a header's value),
    case-insensitively, in order."""
    local, _, domain = base.rpartition("@")
    pattern = re.compile(rf"(?<![\w.+-]){re.escape(local)}\+([a-z2-7]{{26}})@{re.escape(domain)}(?![\w-]|\.[\w-])",
                         re.IGNORECASE)
    return [m.group(1).lower() for m in pattern.finditer(text)]


# --- what a report says ------------------------------------------------------------------

# Where a report names the address it was sent to, most reliable first: the headers the
# delivering server adds (Delivered-To: Postfix, Dovecot, Exim; X-Original-To: Postfix;
# Envelope-To: Exim), then To/Cc as the reporting MTA wrote them (a DSN is addressed to
# the envelope sender), then the Return-Path an embedded copy of our message may carry.
ADDRESS_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to", "cc")


@dataclass(frozen=True)
class Report:
    """One message in the bounce mailbox, read."""

    tokens: tuple[str, ...]  # tokens of our VERP address found in its addressing, most reliable first
    kind: Kind  # hard | soft | other
    status: str | None  # the DSN Status of the worst recipient (5.1.1), if it gave one
    detector: str  # dsn | flufl | none: what decided `kind`
    report_id: str  # SHA-256 of the raw message: the same report read twice is known as such


_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=compat32)


def classify(raw: bytes, base: str) -> Report:
    """What a message in the bounce mailbox says, from its bytes (see the module docstring)."""
    msg = parse(raw)
    tokens: list[str] = []
    for name in ADDRESS_HEADERS:
        for value in msg.get_all(name, []):
            tokens += [t for t in tokens_in(str(value), base) if t not in tokens]
    for part in msg.walk():  # an embedded copy of our message or its headers
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            text = _part_text(part)
            for line in text.splitlines():
                if line.lower().startswith("return-path:"):
                    tokens += [t for t in tokens_in(line, base) if t not in tokens]
    kind, status, detector = _kind(msg)
    return Report(tuple(tokens), kind, status, detector, hashlib.sha256(raw).hexdigest())


def _part_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n".join(p.as_string() for p in payload if isinstance(p, Message))
    data = part.get_payload(decode=True)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)


def _kind(msg: Message) -> tuple[Kind, str | None, str]:
    fields = delivery_status(msg)
    if fields:
        worst: tuple[int, Kind, str | None] = (0, "other", None)
        for action, status in fields:
            kind = _field_kind(action, status)
            rank = {"other": 0, "soft": 1, "hard": 2}[kind]
            if rank > worst[0] or (rank == worst[0] and worst[2] is None):
                worst = (rank, kind, status)
        return worst[1], worst[2], "dsn"
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector choking on a strange message: as if it found nothing
        return "other", None, "none"
    if permanent:
        return "hard", None, "flufl"
    if temporary:
        return "soft", None, "flufl"
    return "other", None, "none"


# Permanent by their code, yet saying nothing against the address: a full mailbox (5.2.2),
# a message too big (5.3.4), a policy refusal (5.7.x: spam filters, a block list that has our
# server on it, which would otherwise suspend every member at one provider at once).
NOT_THE_ADDRESS = ("5.2.2", "5.3.4")


def _field_kind(action: str, status: str | None) -> Kind:
    """One recipient's Action and Status (RFC 3464 §2.3.3, §2.3.4; RFC 3463)."""
    action = action.strip().lower()
    if action.startswith("delayed"):
        return "soft"
    if not action.startswith(("failed", "error")):  # delivered, relayed, expanded: no failure
        return "other"
    if status is None:  # failed, and no code to say otherwise
        return "hard"
    if status.startswith("4.") or status in NOT_THE_ADDRESS or status.startswith("5.7."):
        return "soft"
    return "hard" if status.startswith("5.") else "other"


def delivery_status(msg: Message) -> list[tuple[str, str | None]]:
    """(Action, Status) of each per-recipient block of every message/delivery-status part."""
    out: list[tuple[str, str | None]] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
        if not blocks:  # a part the parser left as text: its blocks split on blank lines
            text = payload if isinstance(payload, str) else ""
            blocks = [email.message_from_string(b.strip() + "\n", policy=compat32)
                      for b in re.split(r"\r?\n\s*\r?\n", text) if b.strip()]
        for block in blocks:
            action = block.get("action")
            if action is None:  # the per-message block (Reporting-MTA, Arrival-Date)
                continue
            found = _STATUS.search(str(block.get("status", "")))
            out.append((str(action), ".".join(found.groups()) if found else None))
    return out


# --- what follows ------------------------------------------------------------------------


def suspension(kind: Kind, soft_messages_in_window: int, config: BounceConfig) -> str | None:
    """The reason to suspend an address after this report, or None.

    `soft_messages_in_window`: the different messages to this address that bounced softly
    within the last `config.soft_days` days, this report's included."""
    if kind == "hard":
        return "hard"
    if kind == "soft" and soft_messages_in_window >= config.soft_limit:
        return f"soft {soft_messages_in_window}/{config.soft_days}d"
    return None


def address_digest(organisation: str, address: str) -> str:
    """What is kept of the address that bounced: SHA-256 of organisation and the address
    as sent (case-folded), so a suspension holds while the member's address is the same
    and lifts when an import brings another; the address itself is not stored twice."""
    return hashlib.sha256(f"{organisation}\0{address.strip().lower()}".encode()).hexdigest()


@dataclass
class BounceRun:
    """What one pass over the bounce mailbox did: counts, and the member numbers suspended
    (never an address). `unknown` messages were left where they were."""

    read: int = 0  # messages in the mailbox folder
    hard: int = 0
    soft: int = 0
    other: int = 0  # ours, but no failure (a positive DSN, an auto-reply)
    unknown: int = 0  # no valid token of ours: left alone
    stale: int = 0  # a valid token whose ledger row is gone
    again: int = 0  # recorded by an earlier run that stopped before moving it
    suspended: list[str] = field(default_factory=list)  # member numbers suspended by this run
    skipped: int = 0  # pending ledger rows of the suspended members marked 'skipped'
    lifted: int = 0  # suspensions lifted: the member's address has changed since
    moved: int = 0  # reports moved to the folder for processed reports

    def summary(self) -> str:
        return (f"{self.read} read: {self.hard} hard, {self.soft} soft, {self.other} other, {self.unknown} unknown "
                f"(left alone), {self.stale} stale, {self.again} seen before; {len(self.suspended)} suspended, "
                f"{self.lifted} lifted, {self.moved} moved")
