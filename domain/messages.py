"""Composing e-mail messages: headers that cannot be injected into, and ids that repeat.

- Message-ID (RFC 5322 §3.6.4) is derived from organisation, campaign and recipient, so
  a message sent again after a crash carries the same id and a mail client drops the copy.
- Every header value is cleaned of control characters (CR, LF, …) before it is set, so
  no member name or subject can add a header; names and subjects that are not ASCII go
  as RFC 2047 encoded words, so æøå arrive intact.
- List-Unsubscribe with an https URL and a mailto, and List-Unsubscribe-Post (RFC 8058
  one-click), carry an opaque token: organisation, audience and member number encrypted
  and authenticated with AES-256-GCM under a key derived from the installation's secret
  (see `unsubscribe_token`); tokens of the earlier, readable HMAC format stay valid.
- multipart/alternative with the plain text first and HTML last (RFC 2046 §5.1.4: the
  last part is the richest); an iMIP invitation adds text/calendar (RFC 6047 §2.4).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.utils import format_datetime, formataddr
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from .errors import BadInput
from .i18n import Msg

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
    payload = f"{organisation}\0{audience}\0{member}".encode()
    aead, nonce_key = _sealer(secret)
    nonce = hmac.new(nonce_key, payload, hashlib.sha256).digest()[:12]
    sealed = aead.encrypt(nonce, payload, _AAD)
    return _b64(_VERSION + nonce + sealed[:-16]) + "." + _b64(sealed[-16:])


@lru_cache(maxsize=8)
def _sealer(secret: bytes) -> tuple[Any, bytes]:
    """(AES-256-GCM under the token key, the nonce key): derived once per secret, not per message."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key, nonce_key = _token_keys(secret)
    return AESGCM(key), nonce_key


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
    """A complete message as bytes, CRLF line ends: headers from `env`, text first, HTML
    last, calendar optional, every part UTF-8 in quoted-printable (readable, and safe for
    7-bit relays).

    Written out directly, not through the `email` package: its generator folded every
    header of every message through a `Header` (compat32), most of the CPU a message cost.
    What every message of a campaign shares (From, Reply-To, the subject, List-Id) is
    encoded once and kept (`_shared`); the bodies go through binascii's quoted-printable
    codec (C). The boundary holds "==", which quoted-printable never writes (an "=" is
    always followed by two hex digits or a line end), so no part can contain it; it comes
    from the Message-ID, so a message sent again is the same but for its Date.

    Every text value is cleaned first (`clean`); an address or Message-ID with a control
    character or a non-ASCII letter is refused (ValueError: the mailer fails that one
    recipient), the unsubscribe URLs are percent-encoded where they are not ASCII."""
    lines = [
        _shared("From", env.from_name, env.from_address),
        _fold("To: " + _address(env.to_name, env.to_address)),
    ]
    if env.reply_to:
        lines.append(_shared("Reply-To", "", env.reply_to))
    lines.append(_shared("Subject", env.subject))
    lines.append("Date: " + format_datetime(env.date))
    lines.append("Message-ID: " + _plain(env.message_id))
    if env.list_id:
        lines.append(_shared("List-Id", env.list_id))
    if env.unsubscribe_url:
        targets = [f"<{_url(env.unsubscribe_url)}>"]
        if env.unsubscribe_mailto:
            targets.append(f"<mailto:{_url(env.unsubscribe_mailto)}>")
        lines.append(_fold("List-Unsubscribe: " + ", ".join(targets)))
        lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    lines.append("MIME-Version: 1.0")
    parts = [_part("text/plain", text)]
    if html is not None:
        parts.append(_part("text/html", html))
    if calendar is not None:
        verb = re.sub(r"[^A-Za-z-]", "", method or "REQUEST").upper() or "REQUEST"
        parts.append(_part(f'text/calendar; charset="utf-8"; method="{verb}"', calendar.decode("utf-8")))
    head = "\r\n".join(lines).encode("ascii") + b"\r\n"
    if len(parts) == 1:
        return head + parts[0]
    boundary = "==aarshjul." + hashlib.sha256(env.message_id.encode()).hexdigest()[:24] + "=="
    delimiter = b"\r\n--" + boundary.encode("ascii")
    return (head + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii")
            + delimiter[2:] + b"\r\n" + (delimiter + b"\r\n").join(parts) + delimiter + b"--\r\n")


_FOLD_AT = 78  # RFC 5322 §2.1.1: a line SHOULD have at most 78 characters (a word longer than that stays whole)
_WORD_BYTES = 36  # UTF-8 bytes in one RFC 2047 encoded word: 48 base64 characters, 60 with =?utf-8?b?…?=
_NOT_HEADER_SAFE = re.compile(r"[^\x20-\x7e]")  # anything but printable ASCII


def _part(content_type: str, text: str) -> bytes:
    """One body part (or the whole body of a message of one part): its headers and text."""
    if ";" not in content_type:
        content_type += '; charset="utf-8"'
    return (f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii")
            + _qp(text))


def _qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends (binascii: soft breaks at 76, trailing
    spaces and "=" encoded)."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", b"\r\n")


@lru_cache(maxsize=256)
def _shared(name: str, value: str, address: str | None = None) -> str:
    """A header every message of a campaign carries alike, encoded once: From and Reply-To
    (`address` given), Subject and List-Id."""
    if address is not None:
        return _fold(f"{name}: " + (_address(value, address) if value else _plain(address)))
    if name == "List-Id":
        return _fold(f"{name}: " + _list_id(value))
    return _fold(f"{name}: " + _words(clean(value)))


def _plain(value: str) -> str:
    """An address or Message-ID as it is: ValueError if it holds what cannot go in a
    header as it is (a control character would start a header of its own)."""
    if _NOT_HEADER_SAFE.search(value):
        raise ValueError("an address or id with a control character or a non-ASCII letter")
    return value.strip()


def _url(value: str) -> str:
    """A URL for List-Unsubscribe: percent-encoded where it is not ASCII; no control characters."""
    return quote(_CONTROL.sub("", value).strip(), safe="!#$%&'()*+,/:;=?@[]~")


def _address(name: str, address: str) -> str:
    """`name <address>`: an ASCII name quoted when it must be (formataddr), another one as
    one RFC 2047 encoded word, however long (as formataddr writes it: parsers such as
    Python's own keep a space between the words of a display name split in several)."""
    name, address = clean(name), _plain(address)
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    return f"{_encoded_word(name.encode('utf-8'))} <{address}>"


def _words(text: str) -> str:
    """Header text as it goes: ASCII as it is, else as RFC 2047 encoded words (base64 UTF-8,
    whole characters in each, at most 75 characters a word), separated by spaces where
    `_fold` may break the line."""
    if text.isascii():
        return text
    words: list[str] = []
    chunk = bytearray()
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(_encoded_word(bytes(chunk)))
            chunk.clear()
        chunk += data
    if chunk:
        words.append(_encoded_word(bytes(chunk)))
    return " ".join(words)


def _encoded_word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def _fold(line: str) -> str:
    """A header line folded at spaces (RFC 5322 §3.2.2) where it is longer than 78."""
    if len(line) <= _FOLD_AT:
        return line
    out: list[str] = []
    current = ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > _FOLD_AT:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return "\r\n ".join(out)


def _list_id(value: str) -> str:
    """List-Id (RFC 2919): the phrase RFC 2047-encoded when it must be, the `<list-id>`
    itself always as it is: parsers read the id between the angle brackets, and an encoded
    word around the whole value hides it from them."""
    phrase, sep, ident = clean(value).rpartition(" <")
    if not sep or not ident.endswith(">"):
        return _words(clean(value))
    return (f"{_words(phrase)} " if phrase else "") + f"<{_plain(ident)}"
