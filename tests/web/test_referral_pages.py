"""The web client's consent form, duplicate warnings and merging, referral form, inbox and
the pages seen through a referral: success, errors beside fields, 403, 404 and CSRF."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import fresh_address
from tests.consent.support import give
from tests.factories import Team, UserHandle, login, make_organisation, make_user, unique
from tests.web.support import field_errors, sign_in

API = "/api/v1"
TODAY = dt.date.today().isoformat()


@dataclass
class Orgs:
    a_name: str
    b_name: str
    b_id: str
    users: dict[str, UserHandle]


@pytest.fixture(scope="module")
def orgs(app: FastAPI) -> Orgs:
    a, b = make_organisation(app, unique("Mekong Aid")), make_organisation(app, unique("Legal"))
    users = {
        "a_caseworker": make_user(app, "caseworker", organisation=a),
        "a_other": make_user(app, "caseworker", organisation=a),
        "a_supervisor": make_user(app, "supervisor", organisation=a),
        "a_lawyer": make_user(app, "lawyer", organisation=a),
        "b_supervisor": make_user(app, "supervisor", organisation=b),
        "b_caseworker": make_user(app, "caseworker", organisation=b),
    }
    return Orgs(a.name, b.name, str(b.id), users)


def _signed_in(app: FastAPI, user: UserHandle) -> tuple[TestClient, str]:
    client = TestClient(app, client=(fresh_address(), 1))
    return client, sign_in(client, user)


def _person_with_case(
    app: FastAPI, user: UserHandle, *, consent: bool = False, **fields: object
) -> tuple[str, str]:
    """A person with a passport, a UNHCR status, a note and a case (via the API)."""
    with TestClient(app, client=(fresh_address(), 1)) as api:
        team = Team(app, api)
        headers = team.login(user)
        data = {"full_name": unique("Sok Dara"), "current_country": "THA", **fields}
        person = team.register(headers, **data)["id"]
        case = team.case(headers, person, title="Hearing")["id"]
        team.document(headers, person, number=unique("N").upper())
        team.unhcr_status(headers, person, effective_date=TODAY)
        team.note(headers, case, "Met the family today.")
        if consent:
            give(api, headers, person, share=True, method="written")
    return person, case


def _refer(client: TestClient, token: str, case: str, orgs: Orgs, **data: object) -> object:
    form = {
        "csrf_token": token,
        "to_organisation": orgs.b_id,
        "purpose": "Representation at the deportation hearing",
        "sections": ["identity", "documents"],
        "expires_on": "",
        **data,
    }
    return client.post(f"/cases/{case}/referrals", data=form, follow_redirects=False)


def _referral_id(client: TestClient) -> str:
    found = re.search(r'action="/referrals/([0-9a-f-]{36})/accept"', client.get("/referrals").text)
    assert found, "no pending referral in the inbox"
    return found.group(1)


# Consent ------------------------------------------------------------------------------------------
class TestConsent:
    def test_recording_consent_shows_it_and_its_history(self, app: FastAPI, orgs: Orgs) -> None:
        person, _ = _person_with_case(app, orgs.users["a_caseworker"])
        client, token = _signed_in(app, orgs.users["a_caseworker"])
        assert "No consent recorded" in client.get(f"/people/{person}").text
        form = client.get(f"/people/{person}/consent/new")
        assert form.status_code == 200 and 'name="share_with_partners"' in form.text
        for share in ("1", ""):
            response = client.post(
                f"/people/{person}/consent",
                data={
                    "csrf_token": token,
                    "store": "1",
                    "share_with_partners": share,
                    "method": "verbal",
                    "recorded_on": TODAY,
                    "note": "Read to her in Khmer.",
                },
                follow_redirects=False,
            )
            assert response.status_code == 303
        page = client.get(response.headers["location"])
        assert "Consent recorded." in page.text
        consent = page.text.split('id="consent"', 1)[1].split("</section>", 1)[0]
        assert "<dt>Share with partners</dt><dd>No</dd>" in consent
        assert "Earlier decisions" in consent and "share: yes" in consent
        assert "withdrew their consent" not in consent

    def test_errors_are_shown_beside_the_fields(self, app: FastAPI, orgs: Orgs) -> None:
        person, _ = _person_with_case(app, orgs.users["a_caseworker"])
        client, token = _signed_in(app, orgs.users["a_caseworker"])
        future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
        response = client.post(
            f"/people/{person}/consent",
            data={"csrf_token": token, "store": "1", "method": "by pigeon", "recorded_on": future},
        )
        assert response.status_code == 422
        assert set(field_errors(response.text)) == {"method", "recorded_on"}
        refused = client.post(
            f"/people/{person}/consent",
            data={
                "csrf_token": token,
                "share_with_partners": "1",
                "method": "verbal",
                "recorded_on": TODAY,
            },
        )
        assert refused.status_code == 422
        assert "Sharing needs consent" in field_errors(refused.text)["share_with_partners"]
        with TestClient(app, client=(fresh_address(), 1)) as api:
            history = api.get(
                f"{API}/individuals/{person}/consent",
                headers=login(api, orgs.users["a_caseworker"]),
            ).json()
        assert history == []

    def test_a_lawyer_may_not_and_another_organisation_finds_nobody(
        self, app: FastAPI, orgs: Orgs
    ) -> None:
        person, _ = _person_with_case(app, orgs.users["a_caseworker"])
        data = {"store": "1", "method": "verbal", "recorded_on": TODAY}
        lawyer, token = _signed_in(app, orgs.users["a_lawyer"])
        assert lawyer.get(f"/people/{person}/consent/new").status_code == 403
        denied = lawyer.post(f"/people/{person}/consent", data={"csrf_token": token, **data})
        assert denied.status_code == 403
        stranger, token = _signed_in(app, orgs.users["b_caseworker"])
        assert stranger.get(f"/people/{person}/consent/new").status_code == 404
        missing = stranger.post(f"/people/{person}/consent", data={"csrf_token": token, **data})
        assert missing.status_code == 404

    def test_a_form_without_its_token_is_refused(self, app: FastAPI, orgs: Orgs) -> None:
        person, _ = _person_with_case(app, orgs.users["a_caseworker"])
        client, _ = _signed_in(app, orgs.users["a_caseworker"])
        response = client.post(
            f"/people/{person}/consent",
            data={"store": "1", "method": "verbal", "recorded_on": TODAY},
        )
        assert response.status_code == 403
        assert "No consent recorded" in client.get(f"/people/{person}").text

    def test_a_withdrawal_leads_to_the_erasure(self, app: FastAPI, orgs: Orgs) -> None:
        person, _ = _person_with_case(app, orgs.users["a_caseworker"])
        client, token = _signed_in(app, orgs.users["a_caseworker"])
        client.post(
            f"/people/{person}/consent",
            data={"csrf_token": token, "method": "written", "recorded_on": TODAY},
        )
        notice = client.get(f"/people/{person}").text
        assert "withdrew their consent to their record being kept" in notice
        assert f'href="/people/{person}/erase"' not in notice  # a caseworker asks a supervisor
        assert client.get(f"/people/{person}/erase").status_code == 403

        supervisor, token = _signed_in(app, orgs.users["a_supervisor"])
        assert f'href="/people/{person}/erase"' in supervisor.get(f"/people/{person}").text
        unconfirmed = supervisor.post(
            f"/people/{person}/erase", data={"csrf_token": token, "reason": "Consent withdrawn"}
        )
        assert unconfirmed.status_code == 422 and "confirm" in field_errors(unconfirmed.text)
        assert supervisor.post(f"/people/{person}/erase", data={"reason": "x"}).status_code == 403
        erased = supervisor.post(
            f"/people/{person}/erase",
            data={"csrf_token": token, "reason": "Consent withdrawn", "confirm": "1"},
            follow_redirects=False,
        )
        assert erased.status_code == 303
        assert supervisor.get(f"/people/{person}").status_code == 404


# Duplicates ---------------------------------------------------------------------------------------
class TestDuplicates:
    def test_registering_a_known_person_warns_and_a_supervisor_merges(
        self, app: FastAPI, orgs: Orgs
    ) -> None:
        name = unique("Chea Sopheap")
        first, _ = _person_with_case(
            app, orgs.users["a_other"], full_name=name, date_of_birth="1986-05-02"
        )
        client, token = _signed_in(app, orgs.users["a_caseworker"])
        response = client.post(
            "/people/new",
            data={"csrf_token": token, "full_name": name.upper(), "date_of_birth": "1986-05-02"},
            follow_redirects=False,
        )
        assert response.status_code == 303 and "warn=duplicates" in response.headers["location"]
        second = response.headers["location"].split("?")[0].rsplit("/", 1)[1]
        page = client.get(response.headers["location"]).text
        assert "may already be registered" in page and "Possible duplicate" in page
        assert f'href="/people/{first}"' in page and "/merge" not in page
        assert client.get(f"/people/{second}/merge?into={first}").status_code == 403

        supervisor, token = _signed_in(app, orgs.users["a_supervisor"])
        page = supervisor.get(f"/people/{second}").text
        assert f'href="/people/{second}/merge?into={first}"' in page
        confirm = supervisor.get(f"/people/{second}/merge?into={first}")
        assert confirm.status_code == 200 and "Merge into the kept record" in confirm.text
        assert supervisor.post(f"/people/{second}/merge", data={"into": first}).status_code == 403
        merged = supervisor.post(
            f"/people/{second}/merge",
            data={"csrf_token": token, "into": first},
            follow_redirects=False,
        )
        assert merged.status_code == 303 and merged.headers["location"].startswith(
            f"/people/{first}"
        )
        assert "both histories are kept" in supervisor.get(merged.headers["location"]).text
        assert supervisor.get(f"/people/{second}").status_code == 404
        again = supervisor.post(
            f"/people/{second}/merge", data={"csrf_token": token, "into": first}
        )
        assert again.status_code == 409 and "already merged" in again.text

    def test_a_document_number_held_already_warns(self, app: FastAPI, orgs: Orgs) -> None:
        number = unique("P").upper()
        first, _ = _person_with_case(app, orgs.users["a_other"])
        second, _ = _person_with_case(app, orgs.users["a_caseworker"])
        with TestClient(app, client=(fresh_address(), 1)) as api:
            api.post(
                f"{API}/individuals/{first}/documents",
                json={"type": "passport", "number": number, "issuing_country": "KHM"},
                headers=login(api, orgs.users["a_other"]),
            ).raise_for_status()
        client, token = _signed_in(app, orgs.users["a_caseworker"])
        response = client.post(
            f"/people/{second}/documents",
            data={
                "csrf_token": token,
                "type": "passport",
                "number": number,
                "issuing_country": "KHM",
                "status": "valid",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303 and "warn=duplicates" in response.headers["location"]
        assert f'href="/people/{first}"' in client.get(f"/people/{second}").text

    def test_nothing_is_matched_across_organisations(self, app: FastAPI, orgs: Orgs) -> None:
        name = unique("Kem Sokha")
        _person_with_case(
            app, orgs.users["a_caseworker"], full_name=name, date_of_birth="1970-01-01"
        )
        client, token = _signed_in(app, orgs.users["b_caseworker"])
        response = client.post(
            "/people/new",
            data={"csrf_token": token, "full_name": name, "date_of_birth": "1970-01-01"},
            follow_redirects=False,
        )
        assert response.status_code == 303 and "warn" not in response.headers["location"]
        assert "Possible duplicate" not in client.get(response.headers["location"]).text

    def test_merging_is_for_the_organisations_own_supervisor(
        self, app: FastAPI, orgs: Orgs
    ) -> None:
        first, _ = _person_with_case(app, orgs.users["a_caseworker"])
        second, _ = _person_with_case(app, orgs.users["a_caseworker"])
        stranger, token = _signed_in(app, orgs.users["b_supervisor"])
        assert stranger.get(f"/people/{second}/merge?into={first}").status_code == 404
        response = stranger.post(
            f"/people/{second}/merge", data={"csrf_token": token, "into": first}
        )
        assert response.status_code == 404


# Referrals ----------------------------------------------------------------------------------------
class TestReferring:
    def test_without_consent_the_409_is_said_plainly(self, app: FastAPI, orgs: Orgs) -> None:
        _, case = _person_with_case(app, orgs.users["a_caseworker"])
        client, token = _signed_in(app, orgs.users["a_caseworker"])
        page = client.get(f"/cases/{case}").text
        assert "does not allow sharing with partners" in page and orgs.b_name in page
        response = _refer(client, token, case, orgs)
        assert response.status_code == 409
        assert "current consent does not allow sharing with partners" in response.text
        assert "Not referred to any organisation." in response.text

    def test_errors_are_shown_beside_the_fields(self, app: FastAPI, orgs: Orgs) -> None:
        _, case = _person_with_case(app, orgs.users["a_caseworker"], consent=True)
        client, token = _signed_in(app, orgs.users["a_caseworker"])
        response = _refer(client, token, case, orgs, to_organisation="", sections=[], purpose=" ")
        assert response.status_code == 422
        errors = field_errors(response.text)
        assert set(errors) == {"to_organisation", "sections", "purpose"}
        assert errors["sections"] == "Tick at least one section to share."
        past = _refer(client, token, case, orgs, expires_on="2001-01-01")
        assert past.status_code == 422 and "expires_on" in field_errors(past.text)
        checked = 'name="sections" value="identity" checked'
        assert checked in past.text  # the ticked sections are kept

    def test_who_may_refer(self, app: FastAPI, orgs: Orgs) -> None:
        _, case = _person_with_case(app, orgs.users["a_caseworker"], consent=True)
        lawyer, token = _signed_in(app, orgs.users["a_lawyer"])
        assert _refer(lawyer, token, case, orgs).status_code == 403
        stranger, token = _signed_in(app, orgs.users["b_caseworker"])
        assert _refer(stranger, token, case, orgs).status_code == 404
        client, _ = _signed_in(app, orgs.users["a_caseworker"])
        assert _refer(client, "", case, orgs).status_code == 403  # no CSRF token
        assert "Not referred to any organisation." in client.get(f"/cases/{case}").text

    def test_the_inbox_is_for_supervisors(self, app: FastAPI, orgs: Orgs) -> None:
        client, _ = _signed_in(app, orgs.users["b_caseworker"])
        assert client.get("/referrals").status_code == 403
        assert 'href="/referrals"' not in client.get("/people").text
        supervisor, _ = _signed_in(app, orgs.users["b_supervisor"])
        assert 'href="/referrals"' in supervisor.get("/people").text


class TestTheReferralFlow:
    def test_refer_accept_see_the_sections_revoke(self, app: FastAPI, orgs: Orgs) -> None:
        person, case = _person_with_case(app, orgs.users["a_caseworker"], consent=True)
        sender, token = _signed_in(app, orgs.users["a_caseworker"])
        sent = _refer(sender, token, case, orgs)
        assert sent.status_code == 303
        page = sender.get(sent.headers["location"]).text
        assert "Case referred." in page and "Pending" in page and orgs.b_name in page

        receiver, b_token = _signed_in(app, orgs.users["b_supervisor"])
        assert receiver.get(f"/cases/{case}").status_code == 404  # not before accepting
        inbox = receiver.get("/referrals").text
        assert "Representation at the deportation hearing" in inbox and orgs.a_name in inbox
        referral = _referral_id(receiver)
        assert receiver.post(f"/referrals/{referral}/accept", data={}).status_code == 403
        accepted = receiver.post(
            f"/referrals/{referral}/accept", data={"csrf_token": b_token}, follow_redirects=False
        )
        assert accepted.status_code == 303 and accepted.headers["location"].startswith(
            f"/cases/{case}"
        )

        seen = receiver.get(accepted.headers["location"]).text
        assert f"Seen through a referral from <bdi>{orgs.a_name}</bdi>" in seen
        assert (
            "Representation at the deportation hearing</bdi>”: only Identity, Travel documents"
            in seen
        )
        assert "until the referring organisation revokes it" in seen
        for absent in ('id="notes"', 'id="history"', 'id="attachments"', "Download PDF"):
            assert absent not in seen, absent
        assert "Met the family today." not in seen
        assert orgs.users["a_caseworker"].username not in seen  # the sender's staff stay theirs

        person_page = receiver.get(f"/people/{person}")
        assert person_page.status_code == 200
        text = person_page.text
        assert "Seen through a referral" in text
        assert 'id="identity"' in text and 'id="documents"' in text
        for absent in ('id="unhcr"', 'id="incidents"', 'id="risk"', 'id="consent"', "Check-ins"):
            assert absent not in text, absent

        revoked = sender.post(
            f"/referrals/{referral}/revoke", data={"csrf_token": token}, follow_redirects=False
        )
        assert revoked.status_code == 303
        assert "Referral revoked" in sender.get(revoked.headers["location"]).text
        assert receiver.get(f"/cases/{case}").status_code == 404
        assert receiver.get(f"/people/{person}").status_code == 404
        assert "Revoked" in receiver.get("/referrals").text

    def test_a_declined_referral_opens_nothing(self, app: FastAPI, orgs: Orgs) -> None:
        _, case = _person_with_case(app, orgs.users["a_caseworker"], consent=True)
        sender, token = _signed_in(app, orgs.users["a_caseworker"])
        assert _refer(sender, token, case, orgs, sections=["history"]).status_code == 303
        receiver, b_token = _signed_in(app, orgs.users["b_supervisor"])
        referral = _referral_id(receiver)
        # The referring side may not decide on it; the receiving side may not revoke it.
        a_supervisor, a_token = _signed_in(app, orgs.users["a_supervisor"])
        assert (
            a_supervisor.post(
                f"/referrals/{referral}/accept", data={"csrf_token": a_token}
            ).status_code
            == 403
        )
        assert (
            receiver.post(f"/referrals/{referral}/revoke", data={"csrf_token": b_token}).status_code
            == 403
        )
        declined = receiver.post(
            f"/referrals/{referral}/decline", data={"csrf_token": b_token}, follow_redirects=False
        )
        assert declined.status_code == 303
        assert "Referral declined." in receiver.get(declined.headers["location"]).text
        assert receiver.get(f"/cases/{case}").status_code == 404
        assert "Declined" in sender.get(f"/cases/{case}").text

    def test_the_history_section_shows_notes_and_history_only(
        self, app: FastAPI, orgs: Orgs
    ) -> None:
        person, case = _person_with_case(app, orgs.users["a_caseworker"], consent=True)
        sender, token = _signed_in(app, orgs.users["a_caseworker"])
        _refer(sender, token, case, orgs, sections=["history"])
        receiver, b_token = _signed_in(app, orgs.users["b_supervisor"])
        receiver.post(f"/referrals/{_referral_id(receiver)}/accept", data={"csrf_token": b_token})
        seen = receiver.get(f"/cases/{case}").text
        assert "Met the family today." in seen and 'id="history"' in seen
        assert "only Case history and notes" in seen
        person_page = receiver.get(f"/people/{person}").text
        assert "A person referred to your organisation" in person_page
        assert 'id="identity"' not in person_page and 'id="documents"' not in person_page
