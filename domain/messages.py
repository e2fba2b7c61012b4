"""Composing e-mail messages: headers that cannot be injected into, and ids that repeat.

- Message-ID (RFC 5322 §3.6.4) is derived from organisation, campaign and recipient, so
  a message sent again after a crash carries the same id and a mail client drops the copy.
- Every header value is cleaned of control characters (CR, LF, …) before it is set, so
  no member name or subject can add a header; display names are encoded by the `email`
  package (RFC 2047) so æøå arrive intact.
- List-Unsubscribe with an https URL and a mailto, and List-Unsubscribe-Post (RFC 8058
  one-click), carry an opaque token: the audience and member number, signed with HMAC.
- multipart/alternative with the plain text first and HTML last (RFC 2046 §5.1.4: the
  last part is the richest); an iMIP invitation adds text/calendar (RFC 6047 §2.4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def clean(text: str) -> str:
    """One line of header text that cannot smuggle in another header.

    Control characters (CR, LF, TAB, …) become one space. RFC 2047 encoded words in the
    input (`=?utf-8?q?X=0D=0ABcc:…?=`) are decoded first and cleaned too: Python's
    `email` package would otherwise decode them while folding and write a raw CR LF.
    Whatever still looks like an encoded word is broken up.
    """
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            pass
    return _CONTROL.sub(" ", text).strip().replace("=?", "= ?")


def message_id(organisation: str, campaign: str, recipient: str, domain: str) -> str:
    digest = hashlib.sha256(f"{organisation}\0{campaign}\0{recipient}".encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


# --- unsubscribe tokens ---------------------------------------------------------------


class BadToken(ValueError):
    """An unsubscribe token that is malformed or not signed by us."""


def unsubscribe_token(secret: bytes, organisation: str, audience: str, member: str) -> str:
    """An opaque, URL-safe token naming (organisation, audience, member), signed."""
    payload = f"{organisation}\0{audience}\0{member}".encode()
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return _b64(payload) + "." + _b64(signature)


def read_token(secret: bytes, token: str) -> tuple[str, str, str]:
    """(organisation, audience, member) from a token; BadToken if it is not genuine."""
    try:
        payload_text, signature_text = token.strip().split(".")
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except (ValueError, TypeError):
        raise BadToken("not an unsubscribe token") from None
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(signature, expected):
        raise BadToken("the token's signature does not match (altered, or from another installation)")
    parts = payload.decode("utf-8", "replace").split("\0")
    if len(parts) != 3:
        raise BadToken("not an unsubscribe token")
    return parts[0], parts[1], parts[2]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- messages --------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """Everything about a message except its body."""

    from_name: str
    from_address: str
    to_name: str
    to_address: str
    subject: str
    message_id: str
    date: datetime
    reply_to: str | None = None
    list_id: str | None = None  # "Medlemsbrev <medlemsbrev.bergen.sv.example.org>"
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None  # address?subject=…, without "mailto:"


def compose(env: Envelope, text: str, html: str | None = None, calendar: bytes | None = None,
            method: str | None = None) -> EmailMessage:
    """A complete message: headers from `env`, text first, HTML last, calendar optional."""
    msg = EmailMessage()
    msg["From"] = Address(clean(env.from_name), addr_spec=env.from_address)
    msg["To"] = Address(clean(env.to_name), addr_spec=env.to_address)
    if env.reply_to:
        msg["Reply-To"] = env.reply_to
    msg["Subject"] = clean(env.subject)
    msg["Date"] = format_datetime(env.date)
    msg["Message-ID"] = env.message_id
    if env.list_id:
        msg["List-Id"] = clean(env.list_id)
    if env.unsubscribe_url:
        targets = [f"<{env.unsubscribe_url}>"]
        if env.unsubscribe_mailto:
            targets.append(f"<mailto:{env.unsubscribe_mailto}>")
        msg["List-Unsubscribe"] = ", ".join(targets)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if calendar is not None:
        msg.add_alternative(calendar.decode("utf-8"), subtype="calendar", charset="utf-8",
                            params={"method": method or "REQUEST"}, cte="quoted-printable")
    return msg
