"""The twelve scenarios of MISSION.md, acted out through Haven's own API with invented people.

Dates are relative to the day the demo is loaded, so a fresh demo shows live risk and alerts.
Going through the HTTP API in-process (rather than the services) means the demo data carries
the same history, audit entries and checks as anything a caseworker enters.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import TYPE_CHECKING, Any

with warnings.catch_warnings():  # the test client's transport notice means nothing here
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.service import issue_token
from app.main import create_app
from app.models.user import User

if TYPE_CHECKING:
    from app.config import Settings
    from app.demo import DemoAccounts

API = "/api/v1"


class DemoError(RuntimeError):
    """A scenario could not be entered; the message says which step."""


class Client:
    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def post(self, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        response = self.client.post(API + path, json=body, headers=self.headers)
        if response.status_code != expect:
            raise DemoError(f"POST {path} answered {response.status_code}")
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.patch(API + path, json=body, headers=self.headers)
        if response.status_code != 200:
            raise DemoError(f"PATCH {path} answered {response.status_code}")
        answer: dict[str, Any] = response.json()
        return answer

    def delete(self, path: str, body: dict[str, Any]) -> None:
        response = self.client.request("DELETE", API + path, json=body, headers=self.headers)
        if response.status_code != 204:
            raise DemoError(f"DELETE {path} answered {response.status_code}")


def _day(days_ago: int) -> str:
    return (dt.date.today() - dt.timedelta(days=days_ago)).isoformat()


def _mrz_check(field: str) -> str:
    values = {**{str(d): d for d in range(10)}, "<": 0}
    values.update({chr(c): c - 55 for c in range(ord("A"), ord("Z") + 1)})
    total = sum(values[ch] * (7, 3, 1)[i % 3] for i, ch in enumerate(field))
    return str(total % 10)


def make_mrz(surname: str, given: str, number: str, born: str, sex: str, expires: str) -> str:
    """A valid TD3 machine-readable zone for an invented Cambodian passport."""
    name = f"{surname}<<{given}".upper().replace(" ", "<")
    line1 = f"P<KHM{name}".ljust(44, "<")[:44]
    num = number.ljust(9, "<")
    dob, exp = born.replace("-", "")[2:], expires.replace("-", "")[2:]
    personal = "<" * 14
    body = f"{num}{_mrz_check(num)}KHM{dob}{_mrz_check(dob)}{sex}{exp}{_mrz_check(exp)}{personal}"
    body += _mrz_check(personal)
    composite = _mrz_check(body[0:10] + body[13:20] + body[21:43])
    return f"{line1}\n{body}{composite}"


def _person(c: Client, full_name: str, **extra: Any) -> str:
    body = {"full_name": full_name, "nationalities": ["KHM"], "current_country": "THA"}
    body.update(extra)
    return str(c.post("/individuals", body)["id"])


def _incident(
    c: Client, kind: str, days_ago: int, country: str, people: list[str], **extra: Any
) -> str:
    body = {
        "type": kind,
        "occurred_on": _day(days_ago),
        "country": country,
        "description": extra.pop("description", f"{kind.replace('_', ' ').capitalize()} reported."),
        "individual_ids": people,
        "source": extra.pop(
            "source", {"name": "Partner monitor", "reliability": "B", "credibility": 2}
        ),
    }
    body.update(extra)
    return str(c.post("/incidents", body)["id"])


def _case(c: Client, person: str, title: str, priority: str = "high") -> str:
    return str(
        c.post("/cases", {"individual_id": person, "title": title, "priority": priority})["id"]
    )


def load_scenarios(session: Session, accounts: DemoAccounts, settings: Settings) -> int:
    """Enter every scenario; returns how many were loaded."""
    app = create_app(settings, migrate_on_start=False)
    tokens = {}
    for role in ("supervisor", "caseworker"):
        user = session.get_one(User, accounts.by_role[role].id)
        tokens[role] = issue_token(session, user, channel="demo").token
    session.commit()  # the in-process API below runs in its own transactions
    with TestClient(app) as http:
        sup = Client(http, {"Authorization": f"Bearer {tokens['supervisor']}"})
        cw = Client(http, {"Authorization": f"Bearer {tokens['caseworker']}"})
        lawyer_id = str(accounts.by_role["lawyer"].id)
        return _enter(sup, cw, lawyer_id)


def _enter(sup: Client, cw: Client, lawyer_id: str) -> int:
    # 1. Annulled passports: a list of 12, then a list of 39 that overlaps it.
    numbers = []
    for i in range(20):
        pid = _person(cw, f"Meas Sophal {i + 1:02d}", current_country=["THA", "MYS", "IDN"][i % 3])
        number = f"N{31000000 + i * 7919}"
        cw.post(
            f"/individuals/{pid}/documents",
            {
                "type": "passport",
                "number": number,
                "issuing_country": "KHM",
                "expires_on": _day(-900),
                "status": "valid",
            },
        )
        numbers.append(number)
    decree = {
        "issuing_country": "KHM",
        "effective_date": _day(30),
        "source": "Government decree (invented)",
    }
    sup.post(
        "/documents/revocations",
        {**decree, "numbers": [*numbers[:10], "N99000001", "N99000002"]},
        200,
    )
    later = numbers[:15] + [f"N9800{i:04d}" for i in range(24)]
    sup.post(
        "/documents/revocations", {**decree, "effective_date": _day(20), "numbers": later}, 200
    )

    # 2. A deputy with dual nationality held on arrival at an airport, released the same day.
    deputy = _person(
        cw,
        "Chan Rithy",
        native_name="ចាន់ រិទ្ធី",
        nationalities=["KHM", "USA"],
        current_country="MYS",
        affiliation="Opposition party (dissolved)",
        affiliation_role="Deputy",
        date_of_birth="1971-06-02",
        sex="male",
    )
    _incident(cw, "detention", 3, "MYS", [deputy], location="International airport, arrivals")
    _incident(cw, "release", 3, "MYS", [deputy], description="Released the same evening.")

    # 3. Two people detained for days with deportation pending: a lawyer takes the case.
    pair = [
        _person(
            cw, "Ouk Vannak", native_name="អ៊ុក វណ្ណៈ", current_location="Immigration detention centre"
        ),
        _person(cw, "Ouk Chenda", current_location="Immigration detention centre"),
    ]
    _incident(cw, "detention", 5, "THA", pair, perpetrator="Immigration police")
    _incident(cw, "deportation_order", 2, "THA", pair)
    case3 = _case(cw, pair[0], "Detention with deportation pending", "urgent")
    sup.post(f"/cases/{case3}/assignments", {"user_id": lawyer_id, "role": "lawyer"})

    # 4. Tasered in an abduction attempt in Bangkok; a Person of Concern two days later.
    activist = _person(cw, "Sok Dara", native_name="សុខ ដារ៉ា", current_location="Bangkok")
    _incident(
        cw,
        "abduction_attempt",
        12,
        "THA",
        [activist],
        perpetrator="Unidentified men",
        description="Tasered on the street; escaped.",
    )
    cw.post(
        f"/individuals/{activist}/unhcr-status",
        {"status": "person_of_concern", "effective_date": _day(10)},
    )

    # 5. A couple, both Persons of Concern, arrested, forcibly returned, shown "confessing".
    couple = [_person(cw, "Prak Samnang"), _person(cw, "Prak Sreymom", native_name="ប្រាក់ ស្រីមុំ")]
    for pid in couple:
        cw.post(
            f"/individuals/{pid}/unhcr-status",
            {"status": "person_of_concern", "effective_date": _day(60)},
        )
    _incident(cw, "arrest", 9, "THA", couple)
    _incident(cw, "forced_return", 7, "THA", couple)
    _incident(cw, "coerced_confession", 4, "KHM", couple, description="Shown on state television.")
    case5 = _case(cw, couple[0], "Forced return of a recognised couple", "urgent")
    sup.post(f"/cases/{case5}/assignments", {"user_id": lawyer_id, "role": "lawyer"})

    # 6. Arrest warrants to neighbouring states, denial of entry, a travel ban on a leader.
    leader = _person(cw, "Heng Kosal", current_country="FRA", affiliation_role="Party leader")
    _incident(cw, "arrest_warrant", 40, "KHM", [leader, activist])
    _incident(cw, "denial_of_entry", 15, "MYS", [leader])
    _incident(cw, "travel_ban", 14, "KHM", [leader], description="Airlines told not to board him.")

    # 7. A public list of 18 "traitors": matched with the alerts work (lists); people on it exist.
    _incident(cw, "public_denunciation", 6, "KHM", [activist, deputy])

    # 8. Workers dispersed, two interrogated for hours; a house surrounded after one fled.
    workers = [_person(cw, f"Touch Pisey {i}", current_country="THA") for i in range(1, 4)]
    _incident(cw, "threat", 8, "THA", workers, description="Gathering dispersed by police.")
    _incident(
        cw, "arrest", 8, "THA", workers[:2], description="Two interrogated for hours, released."
    )
    fled = _person(cw, "Vong Narith", check_in_every_hours=24)
    _incident(cw, "surveillance", 6, "MYS", [fled], description="House surrounded after he left.")

    # 9. A death in custody in the origin country (country events come with the alerts).
    _incident(
        cw, "death_in_custody", 11, "KHM", [_person(cw, "Seng Phalla", current_country="KHM")]
    )

    # 10. A passport whose machine-readable zone has a bad check digit is refused, naming the field.
    holder = _person(cw, "Ros Bopha", date_of_birth="1985-03-15", sex="female")
    good = make_mrz("Ros", "Bopha", "N01234567", "1985-03-15", "F", "2030-01-01")
    bad = good[:-2] + str((int(good[-2]) + 1) % 10) + good[-1] if good[-2].isdigit() else good
    cw.post(
        f"/individuals/{holder}/documents", {"type": "passport", "mrz": bad, "status": "valid"}, 422
    )
    cw.post(
        f"/individuals/{holder}/documents", {"type": "passport", "mrz": good, "status": "valid"}
    )

    # 11. The demo lawyer is counsel on scenarios 3 and 5 only; other cases do not exist for them.
    # 12. A person withdraws consent: their record is erased by key destruction.
    withdrawn = _person(cw, "Kim Veasna")
    sup.delete(f"/individuals/{withdrawn}", {"reason": "Consent to store withdrawn (scenario 12)"})
    return 12
