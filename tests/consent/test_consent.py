"""/individuals/{id}/consent: a sealed history, newest first; the latest governs."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.consent import service as consent
from app.consent.service import _present as consent_present
from app.crypto import CryptoError
from app.db import transaction
from app.models.audit import AuditEntry
from app.models.consent import Consent
from tests.consent.support import capture_referral_revocations, consent_body, give
from tests.factories import API, Team

NOTE = "Agreed in the Mae Sot office, sister present-Testvalue"


@pytest.fixture
def caseworker(team: Team) -> dict[str, str]:
    return team.caseworker.headers


@pytest.fixture
def person(team: Team, caseworker: dict[str, str]) -> str:
    return team.register(caseworker)["id"]


class TestRecordConsent:
    def test_anonymous(self, client: TestClient, person: str) -> None:
        response = client.post(f"{API}/individuals/{person}/consent", json=consent_body())
        assert response.status_code == 401

    @pytest.mark.parametrize("role", ["lawyer", "analyst", "auditor", "admin"])
    def test_roles_without_consent_work_are_forbidden(
        self, client: TestClient, team: Team, person: str, role: str
    ) -> None:
        headers = team.member(role).headers
        response = client.post(
            f"{API}/individuals/{person}/consent", json=consent_body(), headers=headers
        )
        assert response.status_code == 403

    def test_created_with_every_field(
        self, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        body = give(client, caseworker, person, share=True, method="written", note=NOTE)
        me = client.get(f"{API}/auth/me", headers=caseworker).json()
        assert body["store"] is True and body["share_with_partners"] is True
        assert body["method"] == "written"
        assert body["note"] == NOTE
        assert body["recorded_on"] == dt.date.today().isoformat()
        assert body["recorded_by"] == me["id"]
        assert body["erasure"] is None
        uuid.UUID(body["id"])

    def test_withdrawing_consent_to_store_offers_erasure(
        self, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        body = give(client, caseworker, person, store=False)
        assert body["erasure"] == {"method": "DELETE", "href": f"{API}/individuals/{person}"}
        shown = client.get(f"{API}/individuals/{person}", headers=caseworker).json()
        assert shown["consent"]["erasure"]["href"] == f"{API}/individuals/{person}"

    @pytest.mark.parametrize(
        "change",
        [
            {"recorded_on": (dt.date.today() + dt.timedelta(days=3)).isoformat()},
            {"method": "telepathy"},
            {"store": "perhaps"},
            {"note": "x" * 20_001},
            {"unexpected": 1},
        ],
    )
    def test_invalid_bodies_are_422(
        self, client: TestClient, caseworker: dict[str, str], person: str, change: dict
    ) -> None:
        response = client.post(
            f"{API}/individuals/{person}/consent",
            json={**consent_body(), **change},
            headers=caseworker,
        )
        assert response.status_code == 422, response.text

    def test_missing_fields_are_422(
        self, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        response = client.post(
            f"{API}/individuals/{person}/consent", json={"store": True}, headers=caseworker
        )
        assert response.status_code == 422

    def test_another_organisation_gets_404(
        self, client: TestClient, team: Team, person: str
    ) -> None:
        other = team.elsewhere()
        for role in ("supervisor", "caseworker"):
            headers = other.member(role).headers
            response = client.post(
                f"{API}/individuals/{person}/consent", json=consent_body(), headers=headers
            )
            assert response.status_code == 404

    def test_caseworker_outside_the_caseload_gets_404(
        self, client: TestClient, team: Team, person: str
    ) -> None:
        colleague = team.member("caseworker").headers
        response = client.post(
            f"{API}/individuals/{person}/consent", json=consent_body(), headers=colleague
        )
        assert response.status_code == 404

    def test_unknown_person_is_404(self, client: TestClient, caseworker: dict[str, str]) -> None:
        response = client.post(
            f"{API}/individuals/{uuid.uuid4()}/consent", json=consent_body(), headers=caseworker
        )
        assert response.status_code == 404

    def test_supervisor_of_the_organisation_may_record(
        self, client: TestClient, team: Team, person: str
    ) -> None:
        supervisor = team.member("supervisor").headers
        assert give(client, supervisor, person)["store"] is True


class TestConsentHistory:
    def test_newest_first_and_the_latest_governs(
        self, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        first = give(client, caseworker, person, share=True, days_ago=30)
        withdrawn = give(client, caseworker, person, share=False, days_ago=2)
        # Written down today, but given before the withdrawal: it does not govern.
        late_entry = give(client, caseworker, person, share=True, method="written", days_ago=10)
        history = client.get(f"{API}/individuals/{person}/consent", headers=caseworker)
        assert history.status_code == 200
        assert [c["id"] for c in history.json()] == [
            withdrawn["id"],
            late_entry["id"],
            first["id"],
        ]
        shown = client.get(f"{API}/individuals/{person}", headers=caseworker).json()
        assert shown["consent"]["id"] == withdrawn["id"]
        assert shown["consent"]["share_with_partners"] is False

    def test_same_day_the_one_recorded_last_governs(
        self, app: FastAPI, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        give(client, caseworker, person, share=False)
        last = give(client, caseworker, person, share=True)
        with transaction(app.state.sessionmaker) as session:
            assert consent.allows_sharing(session, uuid.UUID(person)) is True
            current = consent.current(session, uuid.UUID(person))
            assert current is not None and str(current.id) == last["id"]

    def test_no_consent_yet(
        self, app: FastAPI, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        assert client.get(f"{API}/individuals/{person}/consent", headers=caseworker).json() == []
        shown = client.get(f"{API}/individuals/{person}", headers=caseworker).json()
        assert shown["consent"] is None
        with transaction(app.state.sessionmaker) as session:
            assert consent.allows_sharing(session, uuid.UUID(person)) is False

    def test_no_sharing_without_consent_to_store(
        self, app: FastAPI, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        give(client, caseworker, person, store=False, share=True)
        with transaction(app.state.sessionmaker) as session:
            assert consent.allows_sharing(session, uuid.UUID(person)) is False

    def test_counsel_on_the_case_may_read_it(
        self, client: TestClient, team: Team, caseworker: dict[str, str], person: str
    ) -> None:
        give(client, caseworker, person, share=True)
        case = team.case(caseworker, person)["id"]
        lawyer = team.lawyer
        assigned = team.assign(caseworker, case, lawyer)
        assert assigned.status_code == 201, assigned.text
        response = client.get(f"{API}/individuals/{person}/consent", headers=lawyer.headers)
        assert response.status_code == 200
        assert len(response.json()) == 1

    def test_lawyer_not_on_the_case_gets_404(
        self, client: TestClient, team: Team, person: str
    ) -> None:
        lawyer = team.member("lawyer").headers
        assert client.get(f"{API}/individuals/{person}/consent", headers=lawyer).status_code == 404

    @pytest.mark.parametrize("role", ["analyst", "auditor", "admin"])
    def test_roles_without_case_content_are_forbidden(
        self, client: TestClient, team: Team, person: str, role: str
    ) -> None:
        headers = team.member(role).headers
        assert client.get(f"{API}/individuals/{person}/consent", headers=headers).status_code == 403

    def test_another_organisation_gets_404(
        self, client: TestClient, team: Team, caseworker: dict[str, str], person: str
    ) -> None:
        give(client, caseworker, person)
        headers = team.elsewhere().member("supervisor").headers
        assert client.get(f"{API}/individuals/{person}/consent", headers=headers).status_code == 404

    def test_reads_and_changes_are_audited(
        self, app: FastAPI, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        give(client, caseworker, person)
        client.get(f"{API}/individuals/{person}/consent", headers=caseworker)
        with transaction(app.state.sessionmaker) as session:
            actions = set(
                session.scalars(
                    select(AuditEntry.action).where(AuditEntry.subject_id == uuid.UUID(person))
                )
            )
        assert {"consent.record", "consent.read"} <= actions


class TestOnTheCaseTimeline:
    def test_entry_without_personal_data_in_its_summary(
        self, client: TestClient, team: Team, caseworker: dict[str, str], person: str
    ) -> None:
        case = team.case(caseworker, person)["id"]
        give(client, caseworker, person, share=True, note=NOTE)
        give(client, caseworker, person, share=False)
        entries = client.get(f"{API}/cases/{case}/history", headers=caseworker).json()["entries"]
        recorded = [e for e in entries if e["kind"] == "consent.recorded"]
        assert len(recorded) == 2
        assert recorded[-1]["changes"]["share_with_partners"] == {"from": True, "to": False}
        assert all(NOTE not in e["summary"] for e in recorded)


class TestSealed:
    def test_raw_rows_hold_no_plaintext_and_one_length(
        self, app: FastAPI, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        give(client, caseworker, person, store=True, share=True, method="written", note=NOTE)
        give(client, caseworker, person, store=False, share=False, method="verbal")
        with transaction(app.state.sessionmaker) as session:
            rows = session.execute(
                select(Consent.terms_ct, Consent.note_ct).where(
                    Consent.individual_id == uuid.UUID(person)
                )
            ).all()
        assert len(rows) == 2
        raw = b"".join(bytes(r.terms_ct) + bytes(r.note_ct or b"") for r in rows)
        for plain in (NOTE, "written", "verbal", "true", "false", "share"):
            assert plain.encode() not in raw
            assert plain.encode().hex().encode() not in raw
        # A withdrawal and an agreement cannot be told apart by their length.
        assert len({len(bytes(r.terms_ct)) for r in rows}) == 1

    def test_terms_are_bound_to_their_row(
        self, app: FastAPI, client: TestClient, caseworker: dict[str, str], person: str
    ) -> None:
        agreed = give(client, caseworker, person, store=True, share=True, days_ago=5)
        withdrawn = give(client, caseworker, person, store=False, share=False)
        with transaction(app.state.sessionmaker) as session:
            old = session.get(Consent, uuid.UUID(agreed["id"]))
            new = session.get(Consent, uuid.UUID(withdrawn["id"]))
            assert old is not None and new is not None
            new.terms_ct = old.terms_ct  # an agreement copied over the withdrawal
            with pytest.raises(CryptoError):
                consent_present(session, new)
            session.rollback()


class TestWithdrawingSharing:
    def test_ends_referrals_when_sharing_is_withdrawn(
        self,
        monkeypatch: pytest.MonkeyPatch,
        client: TestClient,
        caseworker: dict[str, str],
        person: str,
    ) -> None:
        calls = capture_referral_revocations(monkeypatch)
        give(client, caseworker, person, share=False)  # nothing shared before
        assert calls == []
        give(client, caseworker, person, share=True)
        assert calls == []
        give(client, caseworker, person, share=False)
        assert [str(c) for c in calls] == [person]
        give(client, caseworker, person, share=False)  # already withdrawn
        assert len(calls) == 1

    def test_a_backdated_entry_that_does_not_govern_ends_nothing(
        self,
        monkeypatch: pytest.MonkeyPatch,
        client: TestClient,
        caseworker: dict[str, str],
        person: str,
    ) -> None:
        calls = capture_referral_revocations(monkeypatch)
        give(client, caseworker, person, share=True)
        give(client, caseworker, person, share=False, days_ago=40)
        assert calls == []
