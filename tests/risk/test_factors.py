"""Each factor of refoulement-v1 on hand-built facts: present when its trigger is, absent when
not, with the weight the table gives it (full confidence, recent, unless said otherwise)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.risk.factors import FACTORS
from app.risk.facts import EventFact, ListMatchFact, OriginReport
from app.risk.policy import POLICY
from tests.risk.support import NOW, codes, days_ago, document, incident, run, weight


def test_every_factor_has_a_row_in_the_table_and_back() -> None:
    assert set(FACTORS) == set(POLICY["factors"])


class TestHostProfile:
    def test_thailand_not_party_to_1951_but_party_to_cat(self) -> None:
        result = run()
        assert {"HOST_NON_PARTY_1951", "HOST_PRECEDENT"} <= codes(result)
        assert "HOST_NO_CAT" not in codes(result)
        assert weight(result, "HOST_NON_PARTY_1951") == 8
        assert result.factor("HOST_NON_PARTY_1951").evidence == (
            "country:THA",
            "countries-2026.11",
        )

    def test_malaysia_party_to_neither(self) -> None:
        result = run(current_country="MYS")
        assert weight(result, "HOST_NON_PARTY_1951") == 8 and weight(result, "HOST_NO_CAT") == 5

    def test_party_host_has_no_host_factors(self) -> None:
        assert not {"HOST_NON_PARTY_1951", "HOST_NO_CAT", "HOST_PRECEDENT"} & codes(
            run(current_country="PHL")
        )

    def test_unknown_host_is_treated_as_non_party_and_flagged(self) -> None:
        result = run(current_country="ERI")
        assert result.factor("HOST_NON_PARTY_1951").evidence == ("country:ERI", "unknown")
        assert "HOST_NO_CAT" in codes(result)

    def test_precedent_needs_the_same_nationality(self) -> None:
        assert "HOST_PRECEDENT" in codes(run())
        assert "HOST_PRECEDENT" not in codes(run(nationalities=["MMR"]))

    def test_precedent_needs_a_return_within_24_months(self) -> None:
        later = NOW + dt.timedelta(days=800)
        assert "HOST_PRECEDENT" not in codes(run(now=later))

    def test_no_host_when_at_home(self) -> None:
        assert not {"HOST_NON_PARTY_1951", "HOST_PRECEDENT"} & codes(run(current_country="KHM"))


class TestCustodyAndRemoval:
    def test_open_detention(self) -> None:
        held = incident("detention")
        result = run(incidents=[held])
        assert weight(result, "HOST_CUSTODY") == 35
        assert result.factor("HOST_CUSTODY").evidence == (held.id,)

    def test_release_on_the_same_day_closes_it(self) -> None:
        result = run(incidents=[incident("arrest", ago=5), incident("release", ago=5)])
        assert "HOST_CUSTODY" not in codes(result)

    def test_arrest_in_the_origin_state_is_not_host_custody(self) -> None:
        assert "HOST_CUSTODY" not in codes(run(incidents=[incident("arrest", country="KHM")]))

    def test_removal_order_until_release(self) -> None:
        order = incident("deportation_order", ago=2)
        assert weight(run(incidents=[order]), "REMOVAL_ORDER") == 30
        released = run(incidents=[order, incident("release", ago=1)])
        assert "REMOVAL_ORDER" not in codes(released)


class TestOriginTargeting:
    def test_warrant(self) -> None:
        result = run(incidents=[incident("arrest_warrant", country="KHM")])
        assert weight(result, "ORIGIN_WARRANT_ABROAD") == 15

    def test_publicly_named_by_incident_or_list(self) -> None:
        named = run(incidents=[incident("public_denunciation", country="KHM")])
        assert weight(named, "PUBLICLY_NAMED") == 15
        listed = run(list_matches=[ListMatchFact("list-1", days_ago(2))])
        assert listed.factor("PUBLICLY_NAMED").evidence == ("list-1",)
        assert weight(listed, "PUBLICLY_NAMED") == pytest.approx(15 * 0.9 * 0.85, abs=0.1)

    def test_political_charges_only_in_the_origin_state(self) -> None:
        charged = run(incidents=[incident("criminal_charge", country="KHM")])
        assert weight(charged, "POLITICAL_CHARGES") == 15
        assert "POLITICAL_CHARGES" not in codes(
            run(incidents=[incident("criminal_charge", country="THA")])
        )

    @pytest.mark.parametrize(
        ("affiliation", "role", "expected"),
        [
            ("CNRP", None, 8),
            ("cnrp youth wing", "Member", 8),
            ("Cambodia National Rescue Party", "Deputy Leader", 13),
            ("CNRP", "provincial SECRETARY", 13),
            ("Opposition party", "President", 0),
            (None, "Leader", 0),
        ],
    )
    def test_affiliation_targeted(self, affiliation: str, role: str, expected: int) -> None:
        result = run(affiliation=affiliation, affiliation_role=role)
        assert weight(result, "AFFILIATION_TARGETED") == expected
        if expected:
            evidence = result.factor("AFFILIATION_TARGETED").evidence
            assert "targeted_by:KHM" in evidence
            assert not any(affiliation.casefold() in e.casefold() for e in evidence)

    def test_origin_severity_from_incidents_events_and_other_reports(self) -> None:
        own = incident("coerced_confession", country="KHM", ago=100)
        assert weight(run(incidents=[own]), "ORIGIN_SEVERITY") == 5
        event = EventFact("event-1", "KHM", "death_in_custody", days_ago(20), affects=False)
        assert run(country_events=[event]).factor("ORIGIN_SEVERITY").evidence == ("event-1",)
        others = run(origin_reports=[OriginReport("death_in_custody", "KHM", days_ago(30))])
        assert others.factor("ORIGIN_SEVERITY").evidence == ("reports:1",)

    def test_origin_severity_window_is_twelve_months(self) -> None:
        old = incident("death_in_custody", country="KHM", ago=400)
        assert "ORIGIN_SEVERITY" not in codes(run(incidents=[old]))


class TestDocumentsAndMobility:
    def test_revoked_document_and_no_valid_one_in_a_non_party_host(self) -> None:
        revoked = document("revoked")
        result = run(documents=[revoked])
        assert weight(result, "DOC_REVOKED") == 15
        assert result.factor("DOC_REVOKED").evidence == (revoked.id,)
        assert weight(result, "NO_VALID_DOC_IN_HOST") == 10

    def test_a_valid_document_remains(self) -> None:
        result = run(documents=[document("revoked"), document("valid")])
        assert "DOC_REVOKED" in codes(result) and "NO_VALID_DOC_IN_HOST" not in codes(result)

    def test_no_valid_document_matters_only_in_a_non_party_host(self) -> None:
        result = run(current_country="PHL", documents=[document("expired")])
        assert "NO_VALID_DOC_IN_HOST" not in codes(result)

    def test_nothing_recorded_is_not_evidence_of_no_document(self) -> None:
        assert "NO_VALID_DOC_IN_HOST" not in codes(run())

    def test_revocation_reported_as_an_incident(self) -> None:
        result = run(incidents=[incident("passport_revoked", country="KHM", grade="B1")])
        assert weight(result, "DOC_REVOKED") == pytest.approx(13.5)
        assert "MOBILITY_CONTROL" not in codes(result)

    def test_travel_ban_and_denial_of_entry(self) -> None:
        result = run(incidents=[incident("denial_of_entry"), incident("travel_ban", country="KHM")])
        assert weight(result, "MOBILITY_CONTROL") == 10
        assert len(result.factor("MOBILITY_CONTROL").evidence) == 2


class TestDirectAttacks:
    def test_attack_or_abduction_attempt_in_the_host_state(self) -> None:
        attempt = incident("abduction_attempt")
        result = run(incidents=[attempt])
        assert weight(result, "PHYSICAL_ATTACK_HOST") == 25
        assert result.factor("PHYSICAL_ATTACK_HOST").evidence == (attempt.id,)
        assert "PHYSICAL_ATTACK_HOST" not in codes(
            run(incidents=[incident("physical_attack", country="KHM")])
        )

    def test_surveillance_within_ninety_days(self) -> None:
        assert weight(run(incidents=[incident("surveillance", ago=10)]), "SURVEILLANCE_HOST") == 8
        assert "SURVEILLANCE_HOST" not in codes(run(incidents=[incident("threat", ago=120)]))


class TestProtection:
    def test_unhcr_recognition_weighs_little_in_a_non_party_host(self) -> None:
        status = {"unhcr_status": "person_of_concern", "unhcr_status_id": "status-1"}
        assert weight(run(**status), "UNHCR_RECOGNISED") == -5
        assert weight(run(current_country="PHL", **status), "UNHCR_RECOGNISED") == -15
        assert "UNHCR_RECOGNISED" not in codes(run(unhcr_status="asylum_seeker"))

    def test_safe_second_nationality(self) -> None:
        result = run(nationalities=["KHM", "USA"])
        assert weight(result, "SAFE_SECOND_NATIONALITY") == -20
        assert result.factor("SAFE_SECOND_NATIONALITY").evidence == ("nationality:USA",)
        assert "SAFE_SECOND_NATIONALITY" not in codes(run(nationalities=["KHM", "VNM"]))
        assert "SAFE_SECOND_NATIONALITY" not in codes(run(nationalities=["FRA"]))

    def test_in_a_safe_state(self) -> None:
        result = run(current_country="FRA")
        assert weight(result, "IN_SAFE_STATE") == -25
        assert "IN_SAFE_STATE" not in codes(run(current_country="THA"))
        assert "IN_SAFE_STATE" not in codes(run(current_country="KHM"))


class TestEventsAndCheckIns:
    def test_country_event_affecting_the_person_decays(self) -> None:
        fresh = EventFact("event-2", "KHM", "crackdown", days_ago(5), affects=True)
        assert weight(run(country_events=[fresh]), "COUNTRY_EVENT") == 10
        old = EventFact("event-3", "KHM", "crackdown", days_ago(200), affects=True)
        assert 0 < weight(run(country_events=[old]), "COUNTRY_EVENT") < 3
        elsewhere = EventFact("event-4", "KHM", "crackdown", days_ago(5), affects=False)
        assert "COUNTRY_EVENT" not in codes(run(country_events=[elsewhere]))

    def test_overdue_check_in(self) -> None:
        late = run(check_in_every_hours=48, last_check_in_at=NOW - dt.timedelta(hours=50))
        assert weight(late, "CHECK_IN_OVERDUE") == 10
        on_time = run(check_in_every_hours=48, last_check_in_at=NOW - dt.timedelta(hours=20))
        assert "CHECK_IN_OVERDUE" not in codes(on_time)
        assert "CHECK_IN_OVERDUE" not in codes(run(last_check_in_at=NOW - dt.timedelta(days=9)))


class TestRefouled:
    def test_forced_return_is_critical(self) -> None:
        arrest, returned = incident("arrest", ago=9), incident("forced_return", ago=7)
        result = run(incidents=[arrest, returned], unhcr_status="person_of_concern")
        assert result.level == "critical"
        assert result.factor("REFOULED").evidence == (returned.id,)
        assert "HOST_CUSTODY" not in codes(result)  # the return ended the custody
