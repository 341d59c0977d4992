"""The alert rules, on their own: incident types, dedup keys, inhibition, expiry, e-mail."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest

from app.alerts import rules

PERSON, DOCUMENT, INCIDENT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


class TestIncidentRule:
    @pytest.mark.parametrize(
        ("incident_type", "expected"),
        [
            ("detention", ("host_custody", "critical")),
            ("arrest", ("host_custody", "critical")),
            ("deportation_order", ("removal_order", "critical")),
            ("forced_return", ("forced_return", "critical")),
            ("physical_attack", ("attack_or_abduction", "critical")),
            ("abduction_attempt", ("attack_or_abduction", "critical")),
            ("arrest_warrant", ("mobility_or_warrant", "high")),
            ("travel_ban", ("mobility_or_warrant", "high")),
            ("denial_of_entry", ("mobility_or_warrant", "high")),
            ("public_denunciation", ("publicly_named", "high")),
            ("disappearance", ("disappearance", "critical")),
            ("surveillance", None),
            ("threat", None),
            ("release", None),
            ("criminal_charge", None),
            ("death_in_custody", None),
            ("coerced_confession", None),
            ("passport_revoked", None),
        ],
    )
    def test_by_type(self, incident_type: str, expected: tuple[str, str] | None) -> None:
        assert rules.incident_rule(incident_type, "THA", ["KHM"]) == expected

    def test_custody_by_a_state_of_nationality_is_not_host_custody(self) -> None:
        assert rules.incident_rule("detention", "KHM", ["KHM"]) is None
        assert rules.incident_rule("arrest", "USA", ["KHM", "USA"]) is None
        assert rules.incident_rule("arrest", "MYS", ["KHM", "USA"]) == ("host_custody", "critical")

    def test_unknown_nationality_counts_as_host(self) -> None:
        assert rules.incident_rule("detention", "THA", []) == ("host_custody", "critical")


class TestDedupKey:
    def test_sha256_of_rule_person_subject(self) -> None:
        expected = hashlib.sha256(f"passport_revoked|{PERSON}|{DOCUMENT}".encode()).hexdigest()
        assert rules.dedup_key("passport_revoked", PERSON, DOCUMENT) == expected

    def test_incident_rules_name_the_person_not_the_incident(self) -> None:
        expected = hashlib.sha256(f"host_custody|{PERSON}|".encode()).hexdigest()
        assert rules.dedup_key("host_custody", PERSON, INCIDENT) == expected
        assert rules.dedup_key("host_custody", PERSON, uuid.uuid4()) == expected

    def test_no_person(self) -> None:
        expected = hashlib.sha256(f"country_event||{INCIDENT}".encode()).hexdigest()
        assert rules.dedup_key("country_event", None, INCIDENT) == expected


class TestInhibition:
    def test_critical_custody_mutes_lower_alerts(self) -> None:
        for target, severity in [
            ("publicly_named", "high"),
            ("document_expiring", "medium"),
            ("check_in_overdue", "high"),
            ("risk_escalated", "high"),
        ]:
            assert rules.inhibits("host_custody", "critical", None, target, severity, None)

    def test_critical_alerts_are_not_muted(self) -> None:
        assert not rules.inhibits(
            "host_custody", "critical", None, "removal_order", "critical", None
        )

    def test_forced_return_mutes_too(self) -> None:
        assert rules.inhibits(
            "forced_return", "critical", None, "mobility_or_warrant", "high", None
        )

    def test_a_backfilled_custody_mutes_nothing(self) -> None:
        assert not rules.inhibits("host_custody", "info", None, "publicly_named", "high", None)

    def test_an_alert_never_mutes_its_own_rule(self) -> None:
        assert not rules.inhibits("host_custody", "critical", None, "host_custody", "info", None)

    def test_emergency_access_is_never_muted(self) -> None:
        assert not rules.inhibits("host_custody", "critical", None, "break_glass", "high", None)

    def test_revocation_mutes_expiry_of_the_same_document(self) -> None:
        other = uuid.uuid4()
        assert rules.inhibits(
            "passport_revoked", "high", DOCUMENT, "document_expiring", "medium", DOCUMENT
        )
        assert rules.inhibits(
            "passport_revoked", "high", DOCUMENT, "passport_expired", "high", DOCUMENT
        )
        assert not rules.inhibits(
            "passport_revoked", "high", DOCUMENT, "document_expiring", "medium", other
        )
        assert not rules.inhibits(
            "passport_revoked", "high", DOCUMENT, "publicly_named", "high", None
        )


class TestExpiry:
    TODAY = dt.date(2025, 6, 1)

    @pytest.mark.parametrize(
        ("days", "severity"),
        [(91, None), (90, "medium"), (31, "medium"), (30, "high"), (0, "high"), (-5, "high")],
    )
    def test_windows(self, days: int, severity: str | None) -> None:
        expires = self.TODAY + dt.timedelta(days=days)
        assert rules.expiry_severity(expires, self.TODAY) == severity

    def test_onset(self) -> None:
        expires = dt.date(2025, 9, 1)
        assert rules.expiry_onset(expires, "medium") == dt.date(2025, 6, 3)
        assert rules.expiry_onset(expires, "high") == dt.date(2025, 8, 2)


def test_backfilled() -> None:
    assert rules.backfilled("Held in custody by a host state") == (
        "info",
        "Held in custody by a host state (backfilled)",
    )


def test_subscribed() -> None:
    assert rules.subscribed(["*"], ("alert.resolved",))
    assert rules.subscribed(["alert.created"], ("alert.group", "alert.created"))
    assert not rules.subscribed(["alert.resolved"], ("alert.group", "alert.created"))
