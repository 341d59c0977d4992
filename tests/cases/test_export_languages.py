"""The PDF export in the reader's language: ``?lang=km|th`` or the caller's profile language.

Headings, labels, the cover, "Page N of M" and the timeline's sentences are Khmer or Thai (read
back with poppler's ``pdftotext``); names and typed text stay as recorded; the PAdES signature
still verifies; the JSON bundle is data and stays English whatever ``lang`` says.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cases import verify
from tests.factories import API, Member, Team

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)

ENGLISH = ("Case record", "Contents", "Timeline", "Travel documents", "Person registered")


@dataclass
class Scene:
    worker: Member
    lawyer: Member
    case_id: str


@pytest.fixture
def scene(team: Team) -> Scene:
    worker, supervisor, lawyer = (team.member(r) for r in ("caseworker", "supervisor", "lawyer"))
    person = team.person(
        worker,
        full_name="Sok Dara",
        native_name="សុខ ដារ៉ា",
        current_country="THA",
    )
    case_id = str(team.case(worker, person, title="Detention at Suan Phlu")["id"])
    assert team.assign(supervisor, case_id, lawyer, "lawyer").status_code in (200, 201)
    team.document(worker, person, number="N01234567")
    team.incident(worker, person)
    return Scene(worker, lawyer, case_id)


def export(client: TestClient, who: Member, case_id: str, fmt: str, **params: str) -> bytes:
    response = client.get(
        f"{API}/cases/{case_id}/export", params={"format": fmt, **params}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response.content


def text_of(body: bytes, tmp_path: Path) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(body)
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, timeout=60
    )
    return done.stdout.decode()


def squeezed(text: str) -> str:
    """Without white space: pdftotext puts spaces between some shaped Khmer glyph clusters."""
    return "".join(text.split())


def test_the_khmer_export_has_khmer_headings_and_still_verifies(
    client: TestClient, scene: Scene, tmp_path: Path
) -> None:
    body = export(client, scene.lawyer, scene.case_id, "pdf", lang="km")
    text = text_of(body, tmp_path)
    khmer = squeezed(text)
    for heading in ("កំណត់ត្រាករណី", "មាតិកា", "បុគ្គល", "ឯកសារធ្វើដំណើរ", "កាលប្បវត្តិ"):
        assert heading in khmer, heading
    assert "ទំព័រ1នៃ" in khmer  # Page 1 of …
    # The timeline's "Person registered" (pdftotext reorders the subscript of ត្រូវ, so it is
    # checked in two parts; the rendered page shows it whole).
    assert "បុគ្គលត្រ" in khmer and "បានចុះបញ្ជី។" in khmer
    for english in ENGLISH:
        assert english not in text
    # Data stays as recorded.
    assert "Sok Dara" in text and "N01234567" in text and "Detention at Suan Phlu" in text
    report = verify.check_pdf(body)
    assert report.ok, report.failure
    if shutil.which("pdftoppm") is not None:  # page 1 as an image, for a person to look at
        (tmp_path / "km.pdf").write_bytes(body)
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "80",
                "-png",
                "-f",
                "1",
                "-l",
                "2",
                str(tmp_path / "km.pdf"),
                str(tmp_path / "km"),
            ],
            check=True,
            timeout=60,
        )
        assert sorted(p.name for p in tmp_path.glob("km*.png")) == ["km-1.png", "km-2.png"]


def test_thai_is_the_default_for_a_thai_reader_and_lang_overrides_it(
    client: TestClient, scene: Scene, tmp_path: Path
) -> None:
    chosen = client.patch(f"{API}/auth/me", json={"locale": "th"}, headers=scene.lawyer.headers)
    assert chosen.status_code == 200, chosen.text
    thai = squeezed(text_of(export(client, scene.lawyer, scene.case_id, "pdf"), tmp_path))
    for heading in ("บันทึกกรณี", "สารบัญ", "ลำดับเหตุการณ์", "เอกสารการเดินทาง"):
        assert heading in thai, heading
    assert "Case record" not in thai
    english = text_of(export(client, scene.lawyer, scene.case_id, "pdf", lang="en"), tmp_path)
    for heading in ENGLISH:
        assert heading in english
    assert "บันทึกกรณี" not in english


def test_the_json_bundle_stays_english(client: TestClient, scene: Scene) -> None:
    body = export(client, scene.worker, scene.case_id, "json", lang="km")
    bundle = json.loads(body)
    assert bundle["case"]["title"] == "Detention at Suan Phlu"
    for entry in bundle["timeline"]:
        assert not any("\u1780" <= c <= "\u17ff" for c in entry["summary"]), entry["summary"]
    assert "កំណត់ត្រា" not in body.decode()


def test_an_unknown_language_is_refused(client: TestClient, scene: Scene) -> None:
    response = client.get(
        f"{API}/cases/{scene.case_id}/export",
        params={"format": "pdf", "lang": "xx"},
        headers=scene.worker.headers,
    )
    assert response.status_code == 422
