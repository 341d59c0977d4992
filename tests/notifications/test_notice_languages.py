"""Alert e-mail and push notices in the recipient's language, through the real path: a detention
is reported through the API, the engine delivers the outbox to a real SMTP server and a push
service stand-in on loopback.

A caseworker who chose Thai (``PATCH /auth/me``) gets a Thai subject and body and a push message
whose title and body are Thai; a caseworker whose organisation reads Khmer gets Khmer; an
English reader's e-mail and push message are as before (the stored notice untouched). No notice
names the person, the place or a number, in any language.
"""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from email.message import EmailMessage

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.alerts import mail as alert_mail
from app.alerts import rules
from app.alerts.engine import Engine
from app.alerts.notifications import push
from app.models.organisation import Organisation
from app.models.user import User
from tests.alerts.support import detain
from tests.delivery.support import Mailbox, Receiver
from tests.factories import API, Member, Team, db, unique
from tests.notifications.conftest import Browser

THAI_SUBJECT = "[Haven] การแจ้งเตือนระดับวิกฤต: การควบคุมตัวโดยรัฐผู้รับ"
KHMER_SUBJECT = "[Haven] ការជូនដំណឹងកម្រិត ធ្ងន់ធ្ងរបំផុត៖ ការឃុំខ្លួនដោយរដ្ឋទទួលស្នាក់នៅ"
ENGLISH_SUBJECT = f"[Haven] critical alert: {rules.HOST_CUSTODY}"


def _member(team: Team, role: str) -> tuple[Member, str]:
    address = f"{unique(role)}@ngo.example.org"
    return team.member(role, email=address), address


def _sent_to(mailbox: Mailbox, address: str, before: int) -> list[EmailMessage]:
    found = []
    for _from, recipients, content in mailbox.messages[before:]:
        if address in recipients:
            message = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
    return found


def test_each_reader_gets_the_notice_in_their_language(
    push_app: FastAPI,
    papi: TestClient,
    pteam: Team,
    service: Receiver,
    engine: Engine,
    mail: tuple[int, Mailbox],
) -> None:
    _, mailbox = mail
    thai, thai_address = _member(pteam, "caseworker")
    english, english_address = _member(pteam, "caseworker")
    chosen = papi.patch(f"{API}/auth/me", json={"locale": "th"}, headers=thai.headers)
    assert chosen.status_code == 200, chosen.text
    thai_browser, english_browser = Browser(), Browser()
    thai_browser.subscribe(papi, thai, f"{service.url}/thai")
    english_browser.subscribe(papi, english, f"{service.url}/english")
    name, place = unique("Sokha Chan"), unique("Wat Phnom Lane")
    person = pteam.register(thai, full_name=name, current_country="THA", current_location=place)
    case = pteam.case(thai, person["id"])
    assert pteam.assign(pteam.supervisor, case["id"], english, "caseworker").status_code in (
        200,
        201,
    )
    before = len(mailbox.messages)
    alert = detain(pteam, thai, person["id"], location=place)
    engine.deliver()

    (thai_mail,) = _sent_to(mailbox, thai_address, before)
    assert thai_mail["Subject"] == THAI_SUBJECT
    assert thai_mail["Content-Language"] == "th"
    body = thai_mail.get_content()
    assert "Haven ออกการแจ้งเตือนระดับวิกฤต" in body
    assert "กฎการแจ้งเตือน: การควบคุมตัวโดยรัฐผู้รับ" in body
    assert f"/alerts/{alert['id']}" in body
    for english_text in ("Rule:", "Severity:", "Open it in Haven", "names no one"):
        assert english_text not in body

    (english_mail,) = _sent_to(mailbox, english_address, before)
    assert english_mail["Subject"] == ENGLISH_SUBJECT
    assert english_mail["Content-Language"] is None
    assert "Haven raised a critical alert." in english_mail.get_content()
    assert f"Rule: {rules.HOST_CUSTODY}" in english_mail.get_content()

    messages = {}
    for received in service.wait_for(2):
        for browser in (thai_browser, english_browser):
            if browser.opens(received):
                messages[id(browser)] = (browser.read(received), received.body)
    thai_push, thai_sealed = messages[id(thai_browser)]
    assert thai_push["title"] == "การแจ้งเตือนระดับวิกฤตในกรณีที่คุณรับผิดชอบ"
    assert thai_push["body"] == "เปิด Haven เพื่อดูรายละเอียด (อาจต้องเข้าสู่ระบบ)"
    assert {k: thai_push[k] for k in ("alert_id", "severity", "rule")} == {
        "alert_id": alert["id"],
        "severity": "critical",
        "rule": rules.HOST_CUSTODY,
    }
    english_push, _sealed = messages[id(english_browser)]
    assert set(english_push) == {"alert_id", "severity", "rule", "url"}

    for message in (thai_mail, english_mail):
        for secret in (name, place, person["id"]):
            assert secret not in message.as_string()
    for secret in (name, place, person["id"]):
        assert secret not in str(thai_push) and secret.encode() not in thai_sealed


def test_the_organisations_language_is_the_default(
    push_app: FastAPI, papi: TestClient, pteam: Team, engine: Engine, mail: tuple[int, Mailbox]
) -> None:
    _, mailbox = mail
    with db(push_app) as session:
        session.execute(
            update(Organisation).where(Organisation.id == pteam.organisation.id).values(locale="km")
        )
    worker, worker_address = _member(pteam, "caseworker")
    own, own_address = _member(pteam, "caseworker")
    with db(push_app) as session:  # a reader's own choice wins over the organisation's
        session.execute(update(User).where(User.id == own.user.id).values(locale="en"))
    person = pteam.register(worker, full_name=unique("Dara Sok"), current_country="THA")
    case = pteam.case(worker, person["id"])
    assert pteam.assign(pteam.supervisor, case["id"], own, "caseworker").status_code in (200, 201)
    before = len(mailbox.messages)
    detain(pteam, worker, person["id"])
    engine.deliver()
    (khmer,) = _sent_to(mailbox, worker_address, before)
    assert khmer["Subject"] == KHMER_SUBJECT
    assert "សារនេះមិនបញ្ចេញឈ្មោះនរណាម្នាក់ឡើយ" in khmer.get_content()
    (english,) = _sent_to(mailbox, own_address, before)
    assert english["Subject"] == ENGLISH_SUBJECT


def test_english_and_unknown_languages_leave_the_stored_notice_as_it_is() -> None:
    notice = '{"type":"alert.created","data":{"rule":"host_custody","severity":"critical"}}'
    message = push.payload(uuid.uuid4(), "critical", rules.HOST_CUSTODY, "/alerts/x")
    for code in ("en", "xx"):
        assert alert_mail.for_reader(notice, code) == notice
        assert push.for_reader(message, code) == message
    assert json.loads(alert_mail.for_reader(notice, "km"))["locale"] == "km"
