"""Composing e-mail messages: headers that cannot be injected into, and ids that repeat.

- Message-ID (RFC 5322 §3.6.4) is derived from organisation, campaign and recipient, so
  a message sent again after a crash carries the same id and a mail client drops the copy.
- Every header value is cleaned of control characters (CR, LF, …) before it is set, so
  no member name or subject can add a header; display names are encoded by the `email`
  package (RFC 2047) so æøå arrive intact.
- List-Unsubscribe with an https URL and a mailto, and List-Unsubscribe-Post (RFC 8058
  one-click), carry an opaque token: organisation, audience and member number encrypted
  and authenticated with AES-256-GCM under a key derived from the installation's secret
  (see `unsubscribe_token`); tokens of the earlier, readable HMAC format stay valid.
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
from email import charset
from email.header import Header, decode_header, make_header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr

from .errors import BadInput
from .i18n import Msg

_QP = charset.Charset("utf-8")
_QP.body_encoding = charset.QP  # quoted-printable: readable, and safe for 7-bit relays
_CRLF = compat32.clone(linesep="\r\n")

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


class BadToken(BadInput, ValueError):
    """An unsubscribe token that is malformed or not signed by us."""


_VERSION = b"\x02"  # the first byte of an opaque token's first part; a legacy token's is ASCII
_AAD = b"aarshjul unsubscribe token v2"


def _token_keys(secret: bytes) -> tuple[bytes, bytes]:
    """(encryption key, nonce key), both derived from the installation's secret (HMAC-SHA256)."""
    return (hmac.new(secret, b"aarshjul unsubscribe token v2: AES-256-GCM key", hashlib.sha256).digest(),
            hmac.new(secret, b"aarshjul unsubscribe token v2: nonce key", hashlib.sha256).digest())


def unsubscribe_token(secret: bytes, organisation: str, audience: str, member: str) -> str:
    """An opaque, URL-safe token naming (organisation, audience, member): `X.Y` where X is
    the version byte, a nonce and the AES-256-GCM ciphertext, and Y the 16-byte tag.

    The nonce is an HMAC of the plaintext (the synthetic-IV construction), so the same
    member's token is the same in every message (a message resent after a crash is
    byte-for-byte the same) and two different plaintexts never share a nonce. Nobody
    without the secret can read whom a token names or make one."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    payload = f"{organisation}\0{audience}\0{member}".encode()
    key, nonce_key = _token_keys(secret)
    nonce = hmac.new(nonce_key, payload, hashlib.sha256).digest()[:12]
    sealed = AESGCM(key).encrypt(nonce, payload, _AAD)
    return _b64(_VERSION + nonce + sealed[:-16]) + "." + _b64(sealed[-16:])


def read_token(secret: bytes, token: str) -> tuple[str, str, str]:
    """(organisation, audience, member) from a token; BadToken if it is not genuine.
    Accepts the opaque tokens `unsubscribe_token` makes and the earlier readable ones
    (payload.HMAC-SHA256[:16]) that messages already sent carry."""
    try:
        first_text, tag_text = token.strip().split(".")
        first, tag = _unb64(first_text), _unb64(tag_text)
    except (ValueError, TypeError):
        raise BadToken(Msg("not an unsubscribe token")) from None
    if first[:1] == _VERSION:
        payload = _open(secret, first, tag)
    else:  # the earlier format: the payload readable, signed with HMAC
        expected = hmac.new(secret, first, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(tag, expected):
            raise BadToken(_FORGED)
        payload = first
    parts = payload.decode("utf-8", "replace").split("\0")
    if len(parts) != 3:
        raise BadToken(Msg("not an unsubscribe token"))
    return parts[0], parts[1], parts[2]


_FORGED = Msg("the token's signature does not match (altered, or from another installation)")


def _open(secret: bytes, first: bytes, tag: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(first) < 1 + 12 or len(tag) != 16:
        raise BadToken(Msg("not an unsubscribe token"))
    nonce, ciphertext = first[1:13], first[13:]
    try:
        return AESGCM(_token_keys(secret)[0]).decrypt(nonce, ciphertext + tag, _AAD)
    except InvalidTag:
        raise BadToken(_FORGED) from None


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
            method: str | None = None) -> bytes:
    """A complete message as bytes: headers from `env`, text first, HTML last, calendar
    optional. Built with the `email.mime` classes (the compat32 policy), about four
    times faster than EmailMessage for the same bytes; every value is cleaned first."""
    # typeshed has MIMEText's charset as str only; the email package takes a Charset too
    # (set_payload), which is how quoted-printable UTF-8 is chosen here. Likewise a header
    # may be set to a Header (compat32), which typeshed's Message[str, str] does not allow.
    parts = [MIMEText(text, "plain", _QP)]  # type: ignore[arg-type]
    if html is not None:
        parts.append(MIMEText(html, "html", _QP))  # type: ignore[arg-type]
    if calendar is not None:
        ics = MIMEText(calendar.decode("utf-8"), "calendar", _QP)  # type: ignore[arg-type]
        ics.set_param("method", method or "REQUEST")
        parts.append(ics)
    msg = parts[0] if len(parts) == 1 else MIMEMultipart("alternative", _subparts=parts)
    msg["From"] = formataddr((clean(env.from_name), env.from_address), charset="utf-8")
    msg["To"] = formataddr((clean(env.to_name), env.to_address), charset="utf-8")
    if env.reply_to:
        msg["Reply-To"] = env.reply_to
    msg["Subject"] = Header(clean(env.subject), "utf-8")  # type: ignore[assignment]
    msg["Date"] = format_datetime(env.date)
    msg["Message-ID"] = env.message_id
    if env.list_id:
        msg["List-Id"] = list_id_header(env.list_id)  # type: ignore[assignment]
    if env.unsubscribe_url:
        targets = [f"<{env.unsubscribe_url}>"]
        if env.unsubscribe_mailto:
            targets.append(f"<mailto:{env.unsubscribe_mailto}>")
        msg["List-Unsubscribe"] = ", ".join(targets)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg.as_bytes(policy=_CRLF)  # SMTP wants CRLF; smtplib does not convert bytes


def list_id_header(value: str) -> Header:
    """List-Id (RFC 2919): the phrase RFC 2047-encoded when it must be, the `<list-id>`
    itself always as it is: parsers read the id between the angle brackets, and an encoded
    word around the whole value hides it from them."""
    phrase, sep, ident = clean(value).rpartition(" <")
    if not sep or not ident.endswith(">"):
        return Header(clean(value), "us-ascii" if clean(value).isascii() else "utf-8")
    header = Header()
    if phrase:
        header.append(phrase, "us-ascii" if phrase.isascii() else "utf-8")
    header.append(f"<{ident}", "us-ascii")
    return header
