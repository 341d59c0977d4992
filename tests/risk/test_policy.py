"""The policy as a whole: levels, floors and caps, recency, confidence, backfill, versions."""

from __future__ import annotations

import datetime as dt

import pytest

from app.risk import reference
from app.risk.policy import POLICY, assess, event_affects, is_backfill, level_of
from tests.risk.support import NOW, REFERENCE, codes, document, incident, person, run, weight


class TestLevels:
    @pytest.mark.parametrize(
        ("score", "level"),
        [(0, "low"), (24, "low"), (25, "medium"), (49, "medium"), (50, "high"), (75, "critical")],
    )
    def test_thresholds(self, score: int, level: str) -> None:
        assert level_of(score) == level

    def test_version_names_the_policy_and_the_data(self) -> None:
        assert run().policy_version == "refoulement-v1+countries-2026.11"

    def test_weights_add_up_to_the_score(self) -> None:
        result = run(
            incidents=[incident("surveillance"), incident("arrest_warrant", country="KHM")],
            documents=[document("revoked")],
            unhcr_status="person_of_concern",
        )
        assert result.score == round(sum(f.weight for f in result.factors))
        assert result.level == level_of(result.score)

    def test_score_is_clamped(self) -> None:
        assert run(current_country="FRA").score == 0
        heavy = run(
            incidents=[
                incident("physical_attack"),
                incident("deportation_order"),
                incident("arrest_warrant", country="KHM"),
                incident("public_denunciation", country="KHM"),
                incident("criminal_charge", country="KHM"),
            ],
            documents=[document("revoked")],
            affiliation="CNRP",
            affiliation_role="Deputy president",
        )
        assert heavy.score == 100 and heavy.level == "critical"


class TestScenario4:
    """An activist tasered in an attempted abduction in Bangkok, recognised as a Person of
    Concern two days later (MISSION.md scenario 4)."""

    def facts(self, host: str) -> dict[str, object]:
        return {
            "current_country": host,
            "incidents": [incident("abduction_attempt", ago=4, country=host, grade="B2")],
            "unhcr_status": "person_of_concern",
            "unhcr_status_id": "status-1",
        }

    def test_recognition_does_not_make_the_risk_low_in_a_non_party_state(self) -> None:
        result = run(**self.facts("THA"))
        assert result.level != "low"
        assert weight(result, "UNHCR_RECOGNISED") == -5

    def test_the_same_in_a_party_state_lowers_it_more(self) -> None:
        thailand, philippines = run(**self.facts("THA")), run(**self.facts("PHL"))
        assert philippines.score < thailand.score
        assert weight(philippines, "UNHCR_RECOGNISED") == -15
        assert philippines.level == "low"


class TestFloors:
    def test_custody_in_a_non_party_host_is_at_least_high(self) -> None:
        # A rumour (F6) alone would score medium; custody in Thailand floors it at high.
        result = run(incidents=[incident("detention", grade="F6")])
        assert result.level == "high" and result.score == 50
        floor = result.factor("FLOOR")
        assert floor is not None and floor.evidence == ("rule:custody_non_party_host", "level:high")

    def test_custody_and_a_removal_order_is_critical(self) -> None:
        result = run(incidents=[incident("detention"), incident("deportation_order")])
        assert result.level == "critical"

    def test_custody_and_origin_targeting_is_critical(self) -> None:
        result = run(incidents=[incident("detention", grade="C3")], affiliation="CNRP")
        assert result.level == "critical"
        assert result.factor("FLOOR").evidence[0] == "rule:custody_targeted"

    def test_a_safe_second_nationality_waives_critical_for_high(self) -> None:
        result = run(
            nationalities=["KHM", "USA"],
            incidents=[incident("detention"), incident("deportation_order")],
        )
        assert result.level == "high"
        assert "SAFE_SECOND_NATIONALITY" in codes(result)

    def test_dual_national_held_at_kuala_lumpur_then_released(self) -> None:
        """DOMAIN.md §3.5 calibration: held on arrival, released the same day."""
        common = {
            "nationalities": ["KHM", "USA"],
            "current_country": "MYS",
            "affiliation": "CNRP",
            "affiliation_role": "Deputy leader",
        }
        warrant = incident("arrest_warrant", ago=30, country="KHM", grade="B2")
        held = [incident("detention", ago=0, country="MYS"), warrant]
        assert run(incidents=held, **common).level == "high"
        released = [*held, incident("release", ago=0, country="MYS")]
        assert run(incidents=released, **common).level in ("low", "medium")

    def test_mitigation_cannot_bring_custody_below_high(self) -> None:
        facts = {
            "current_country": "PHL",
            "incidents": [incident("detention", country="PHL"), incident("physical_attack")],
            "unhcr_status": "refugee",
        }
        result = run(**facts)
        assert result.level == "high"
        assert result.factor("FLOOR").evidence[0] == "rule:custody_mitigation_cap"
        without_custody = run(**{**facts, "incidents": [incident("physical_attack")]})
        assert without_custody.level == "low"


class TestRecency:
    def test_an_attack_five_years_ago_weighs_much_less_than_last_week(self) -> None:
        last_week = run(incidents=[incident("physical_attack", ago=7)])
        long_ago = run(incidents=[incident("physical_attack", ago=5 * 365)])
        assert weight(last_week, "PHYSICAL_ATTACK_HOST") == 25
        assert weight(long_ago, "PHYSICAL_ATTACK_HOST") < 1
        assert long_ago.score < last_week.score

    def test_half_life_after_the_first_thirty_days(self) -> None:
        assert weight(run(incidents=[incident("physical_attack", ago=30)]), "PHYSICAL_ATTACK_HOST")
        at_120 = weight(
            run(incidents=[incident("physical_attack", ago=120)]), "PHYSICAL_ATTACK_HOST"
        )
        assert at_120 == pytest.approx(12.5, abs=0.1)

    def test_an_open_detention_from_long_ago_stays_acute(self) -> None:
        result = run(incidents=[incident("detention", ago=3 * 365)])
        assert weight(result, "HOST_CUSTODY") == 35
        assert result.level in ("high", "critical")

    def test_a_revoked_document_does_not_decay(self) -> None:
        later = run(documents=[document("revoked")], now=NOW + dt.timedelta(days=1000))
        assert weight(later, "DOC_REVOKED") == 15


class TestConfidence:
    @pytest.mark.parametrize(
        ("grade", "expected"), [("A1", 25), ("B2", 19.1), ("F6", 9.0), ("E5", 2.5)]
    )
    def test_source_grading(self, grade: str, expected: float) -> None:
        result = run(incidents=[incident("physical_attack", grade=grade)])
        assert weight(result, "PHYSICAL_ATTACK_HOST") == pytest.approx(expected, abs=0.1)

    def test_strongest_report_counts_and_every_report_is_cited(self) -> None:
        weak, strong = incident("physical_attack", grade="D4"), incident("physical_attack")
        result = run(incidents=[weak, strong])
        assert weight(result, "PHYSICAL_ATTACK_HOST") == 25
        assert result.factor("PHYSICAL_ATTACK_HOST").evidence == (strong.id, weak.id)


class TestBackfill:
    def test_is_backfill(self) -> None:
        day = dt.date(2019, 11, 23)
        assert is_backfill(day, dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
        assert is_backfill(day, day + dt.timedelta(days=31))
        assert not is_backfill(day, day + dt.timedelta(days=30))
        assert not is_backfill(day, dt.datetime(2019, 11, 24, 8, tzinfo=dt.UTC))

    def test_an_old_return_entered_today_scores_but_does_not_alert(self) -> None:
        returned = incident("forced_return", ago=7 * 365, recorded_ago=0)
        result = run(incidents=[incident("arrest", ago=7 * 365 + 1, recorded_ago=0), returned])
        assert result.level == "critical"
        assert result.alert_level == "low"

    def test_an_old_detention_entered_today_still_alerts(self) -> None:
        result = run(incidents=[incident("detention", ago=400, recorded_ago=0)])
        assert result.level == result.alert_level == "high"

    def test_old_custody_with_a_release_does_not_count(self) -> None:
        held = incident("detention", ago=900, recorded_ago=0)
        freed = incident("release", ago=890, recorded_ago=0)
        assert "HOST_CUSTODY" not in codes(run(incidents=[held, freed]))

    def test_news_alerts_as_the_level_says(self) -> None:
        result = run(incidents=[incident("physical_attack", ago=2), incident("detention", ago=1)])
        assert result.alert_level == result.level


class TestCountryEvents:
    def test_every_given_criterion_must_match(self) -> None:
        who = {"nationalities": ["KHM"], "current_country": "THA", "affiliation": "CNRP (youth)"}
        assert event_affects({"nationality": "KHM"}, **who)
        assert event_affects({"nationality": "KHM", "affiliation": "cnrp"}, **who)
        assert not event_affects({"nationality": "KHM", "current_country": "MYS"}, **who)
        assert not event_affects({"affiliation": "Candlelight"}, **who)
        assert not event_affects({}, **who)


class TestReferenceOverrides:
    def test_an_override_changes_the_profile_and_is_cited(self) -> None:
        patched = reference.build([("THA", {"party_1951": True}, "override:abc")])
        result = assess(person(), patched)
        assert "HOST_NON_PARTY_1951" not in codes(result)
        assert assess(person(current_country="ERI"), patched).factor(
            "HOST_NON_PARTY_1951"
        ).evidence == ("country:ERI", "unknown")
        assert "HOST_NON_PARTY_1951" in codes(assess(person(), REFERENCE))

    def test_a_new_country_from_an_override_is_known(self) -> None:
        patched = reference.build(
            [("ISL", {"party_1951": True, "party_1967": True, "party_cat": True}, "override:x")]
        )
        assert "IN_SAFE_STATE" in codes(assess(person(current_country="ISL"), patched))

    def test_table_is_one_reviewable_dict(self) -> None:
        assert POLICY["name"] == "refoulement-v1"
        assert POLICY["recency"] == {"full_days": 30, "half_life_days": 90}
        assert POLICY["levels"] == {"low": 0, "medium": 25, "high": 50, "critical": 75}


class TestRecognitionInANonPartyHost:
    """MISSION.md scenario 4: recognition must not make the risk low where the host state is
    not party to the 1951 Convention — whether or not a recent precedent adds its weight."""

    @pytest.mark.parametrize("days_later", [0, 800])  # with and without the Thai precedent
    def test_recognition_never_lowers_the_level(self, days_later: int) -> None:
        now = NOW + dt.timedelta(days=days_later)
        attack = incident("abduction_attempt", grade="B2", ago=1 - days_later)  # yesterday
        unrecognised = run(now=now, incidents=[attack])
        recognised = run(now=now, incidents=[attack], unhcr_status="person_of_concern")
        assert "UNHCR_RECOGNISED" in codes(recognised)
        assert recognised.level == unrecognised.level != "low"

    def test_in_a_party_host_recognition_still_counts_in_full(self) -> None:
        attack = incident("abduction_attempt", grade="B2", country="PHL")
        plain = run(current_country="PHL", incidents=[attack])
        recognised = run(current_country="PHL", incidents=[attack], unhcr_status="refugee")
        assert weight(recognised, "UNHCR_RECOGNISED") == -15
        assert "FLOOR" not in codes(recognised)
        total = sum(f.weight for f in recognised.factors)
        assert total == pytest.approx(sum(f.weight for f in plain.factors) - 15)
