"""Alert e-mail over SMTP: the rule, the severity and a link, never a name, number or place.

Written in the recipient's language (their own, else their organisation's, else English):
``app.alerts.notifications.dispatch`` stamps it on the stored notice as ``"locale"``, or the
caller passes ``locale``. Rule and severity are shown as the catalogue's words for them
("Host custody"), or as their codes when there are none (English, as before).

HAVEN_SMTP_URL is ``smtp://user:pass@host:port`` (STARTTLS when the server offers it) or
``smtps://…`` (TLS from the first byte); user and password are percent-decoded.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

from babel.dates import format_datetime
from sqlalchemy.orm import Session

from app import i18n
from app.auth import profile
from app.crypto import FieldSlot, Pad, crypto_of
from app.i18n import _
from app.models.user import User

USER_EMAIL = FieldSlot("user", "email")
SMTP_TIMEOUT = 10.0


class MailError(Exception):
    """E-mail cannot be sent with this configuration or to this recipient."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailError("HAVEN_SMTP_URL must be smtp://host:port or smtps://host:port")
        implicit = scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    address: str
    time_zone: str = "UTC"  # times in the message are in it (the user's, the organisation's)
    locale: str = i18n.DEFAULT  # the language it is written in (the user's, the organisation's)


def recipient(session: Session, user_id: uuid.UUID) -> Recipient | None:
    """The user's e-mail address, or None for an unknown or disabled user without one."""
    user = session.get(User, user_id)
    if user is None or user.disabled or user.email_ct is None:
        return None
    address = crypto_of(session).open(
        session, USER_EMAIL, user.id, user.id, user.email_ct, pad=Pad.SHORT
    )
    if not address:
        return None
    zone, locale = profile.effective(session, user.id)
    return Recipient(user.id, address, zone, i18n.choose(locale) or i18n.DEFAULT)


def reader_locale(session: Session, user_id: uuid.UUID) -> str:
    """The language a notice to this user is written in: theirs, their organisation's, or
    English."""
    return i18n.choose(profile.effective(session, user_id)[1]) or i18n.DEFAULT


def for_reader(payload: str, locale: str) -> str:
    """The stored notice with the reader's language stamped on it (English: unchanged)."""
    if locale == i18n.DEFAULT or locale not in i18n.LANGUAGES:
        return payload
    envelope = json.loads(payload)
    envelope["locale"] = locale
    return json.dumps(envelope, separators=(",", ":"))


def term(code: str) -> str:
    """A rule or severity code in the reader's words ("Host custody"), else the code itself."""
    label = code.replace("_", " ").capitalize()
    shown = _(label)
    return code if shown == label else shown


def sender_host(public_url: str) -> str:
    return urlsplit(public_url).hostname or "localhost"


def when(payload: dict[str, Any], time_zone: str) -> str:
    """The payload's time in the reader's zone, with the zone named: "4 Dec 2026, 11:01
    (Asia/Bangkok, UTC+07:00)"; empty without one."""
    try:
        moment = dt.datetime.fromisoformat(str(payload["timestamp"]))
    except (KeyError, ValueError):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    tz = profile.zone(time_zone)
    local = moment.astimezone(tz)
    minutes = int((local.utcoffset() or dt.timedelta(0)).total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    shown = format_datetime(local, "d MMM y, HH:mm", locale=i18n.locale())
    return f"{shown} ({tz.key}, UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"


def compose(
    message_id: str,
    payload: str,
    *,
    to: str,
    public_url: str,
    time_zone: str = "UTC",
    locale: str | None = None,
) -> EmailMessage:
    """The e-mail for one stored outbox payload; times in ``time_zone``, words in ``locale``
    (else the language stamped on the notice, else English)."""
    envelope = json.loads(payload)
    with i18n.using(locale or envelope.get("locale")):
        return _compose(message_id, envelope, to=to, public_url=public_url, time_zone=time_zone)


def _compose(
    message_id: str, envelope: dict[str, Any], *, to: str, public_url: str, time_zone: str
) -> EmailMessage:
    data = envelope.get("data", {})
    at = when(envelope, time_zone)
    rule = term(str(data.get("rule", "alert")))
    severity = term(str(data.get("severity", "unknown")))
    link = str(data.get("link", public_url))
    host = sender_host(public_url)
    mail = EmailMessage()
    mail["From"] = f"Haven <haven@{host}>"
    mail["To"] = to
    mail["Subject"] = _("[Haven] %(severity)s alert: %(rule)s") % {
        "severity": severity,
        "rule": rule,
    }
    mail["Date"] = formatdate(usegmt=True)
    # The same Message-ID on every retry lets mail systems drop a repeat.
    mail["Message-ID"] = f"<{message_id}@{host}>"
    mail["Auto-Submitted"] = "auto-generated"
    lines = [
        _("Haven raised a %(severity)s alert.") % {"severity": severity},
        "",
        _("Rule: %(rule)s") % {"rule": rule},
        _("Severity: %(severity)s") % {"severity": severity},
    ]
    if at:
        lines.append(_("When: %(when)s") % {"when": at})
    lines += [
        "",
        _("Open it in Haven (sign-in required): %(link)s") % {"link": link},
        "",
        _("This message names no one by design; the details are in Haven."),
    ]
    mail.set_content("\n".join(lines) + "\n")
    if i18n.current() != i18n.DEFAULT:  # after set_content, which drops Content-* headers
        mail["Content-Language"] = i18n.current()
    return mail


def send(server: SmtpServer, mail: EmailMessage) -> None:
    """Raises smtplib.SMTPException or OSError when the server refuses or cannot be reached."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.implicit_tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
    with smtp:
        smtp.ehlo()
        if not server.implicit_tls and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(mail)


def permanent(error: BaseException) -> bool:
    """A refusal that a retry will not change (5xx replies, a refused recipient)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500 and not isinstance(error, smtplib.SMTPAuthenticationError)
    return isinstance(error, MailError)


def describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"smtp {error.smtp_code}"
    if isinstance(error, MailError):
        return str(error)
    return f"smtp failed ({type(error).__name__})"
