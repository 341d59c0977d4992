"""The lawyer's export: JSON and PDF bundles, their hash, scope, audit."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.cases import glyphs
from tests.cases.support import audit_actions
from tests.factories import API, Member, Team

KHMER_NAME = "សុខ ដារ៉ា"


@dataclass
class Scene:
    worker: Member
    supervisor: Member
    lawyer: Member
    person: uuid.UUID
    case_id: str


@pytest.fixture
def scene(team: Team) -> Scene:
    worker, supervisor, lawyer = (team.member(r) for r in ("caseworker", "supervisor", "lawyer"))
    person = team.person(
        worker,
        full_name="Sok Dara",
        native_name=KHMER_NAME,
        date_of_birth="1985-03-15",
        current_country="THA",
        current_location="Bangkok, Lat Phrao",
    )
    case_id = str(team.case(worker, person, title="Detention at Suan Phlu")["id"])
    assert team.assign(supervisor, case_id, lawyer, "lawyer").status_code in (200, 201)
    team.document(worker, person, number="N01234567")
    team.unhcr_status(worker, person, effective_date="2024-01-02", unhcr_reference="845-24C01234")
    team.incident(worker, person)
    team.note(worker, case_id, "Hearing on 3 March.")
    return Scene(worker, supervisor, lawyer, person, case_id)


def export(client: TestClient, who: Member, case_id: str, fmt: str = "json"):  # type: ignore[no-untyped-def]
    return client.get(f"{API}/cases/{case_id}/export", params={"format": fmt}, headers=who.headers)


class TestJsonExport:
    def test_hash_matches_body(self, client: TestClient, scene: Scene) -> None:
        response = export(client, scene.lawyer, scene.case_id)
        assert response.status_code == 200, response.text
        assert response.headers["x-content-sha256"] == hashlib.sha256(response.content).hexdigest()
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["cache-control"] == "no-store"

    def test_body_is_canonical(self, client: TestClient, scene: Scene) -> None:
        body = export(client, scene.lawyer, scene.case_id).content
        again = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        assert body == again

    def test_bundle_holds_the_case_and_the_person(self, client: TestClient, scene: Scene) -> None:
        bundle = export(client, scene.lawyer, scene.case_id).json()
        assert bundle["case"]["id"] == scene.case_id
        assert bundle["case"]["title"] == "Detention at Suan Phlu"
        assert {a["role"] for a in bundle["case"]["assignments"]} == {"caseworker", "lawyer"}
        assert bundle["person"]["full_name"] == "Sok Dara"
        assert bundle["person"]["native_name"] == KHMER_NAME
        assert [(d["number"], d["issuing_country"]) for d in bundle["documents"]] == [
            ("N01234567", "KHM")
        ]
        assert [s["status"] for s in bundle["unhcr_status_history"]] == ["asylum_seeker"]
        assert bundle["unhcr_status_history"][0]["unhcr_reference"] == "845-24C01234"
        assert [i["type"] for i in bundle["incidents"]] == ["detention"]
        assert bundle["incidents"][0]["description"].startswith("Held by immigration police")
        assert [n["body"] for n in bundle["notes"]] == ["Hearing on 3 March."]
        kinds = [e["kind"] for e in bundle["timeline"]]
        assert kinds[:3] == ["individual.created", "risk.reassessed", "case.opened"]
        assert {"document.added", "unhcr_status.added", "case.note_added"} <= set(kinds)
        assert bundle["generated_by"]["id"] == str(scene.lawyer.id)
        assert bundle["haven_version"]
        assert bundle["generated_at"]

    def test_lawyer_does_not_get_restricted_fields(self, client: TestClient, scene: Scene) -> None:
        bundle = export(client, scene.lawyer, scene.case_id).json()
        assert bundle["person"]["current_location"] is None
        assert "current_location" in bundle["withheld_fields"]
        created = next(e for e in bundle["timeline"] if e["kind"] == "individual.created")
        assert "current_location" not in created.get("changes", {})
        assert b"Lat Phrao" not in export(client, scene.lawyer, scene.case_id).content
        caseworker_view = export(client, scene.worker, scene.case_id).json()
        assert caseworker_view["person"]["current_location"] == "Bangkok, Lat Phrao"

    def test_export_is_audited_and_on_the_timeline(
        self, client: TestClient, app: FastAPI, scene: Scene
    ) -> None:
        response = export(client, scene.lawyer, scene.case_id)
        entries = [e for e in audit_actions(app, scene.case_id) if e.action == "case.export"]
        assert len(entries) == 1
        assert entries[0].actor_id == scene.lawyer.id
        details = json.loads(entries[0].details or "{}")
        assert details["format"] == "json"
        assert details["sha256"] == response.headers["x-content-sha256"]
        history = client.get(
            f"{API}/cases/{scene.case_id}/history", headers=scene.lawyer.headers
        ).json()
        assert history["entries"][-1]["summary"] == "Export generated (json)"

    def test_unknown_format_is_422(self, client: TestClient, scene: Scene) -> None:
        assert export(client, scene.lawyer, scene.case_id, "docx").status_code == 422


class TestExportScope:
    def test_unassigned_lawyer_gets_404_for_history_and_export(
        self, client: TestClient, team: Team, scene: Scene
    ) -> None:
        outsider = team.member("lawyer")
        for fmt in ("json", "pdf"):
            assert export(client, outsider, scene.case_id, fmt).status_code == 404
        history = client.get(f"{API}/cases/{scene.case_id}/history", headers=outsider.headers)
        assert history.status_code == 404
        assert export(client, outsider, str(uuid.uuid4())).status_code == 404

    def test_other_organisation_is_404(self, client: TestClient, team: Team, scene: Scene) -> None:
        stranger = team.elsewhere().member("supervisor")
        assert export(client, stranger, scene.case_id).status_code == 404

    def test_roles_without_case_content_are_403(
        self, client: TestClient, team: Team, scene: Scene
    ) -> None:
        for role in ("analyst", "auditor", "admin"):
            assert export(client, team.member(role), scene.case_id).status_code == 403

    def test_unassigned_after_removal(self, client: TestClient, scene: Scene) -> None:
        response = client.delete(
            f"{API}/cases/{scene.case_id}/assignments/{scene.lawyer.id}",
            headers=scene.supervisor.headers,
        )
        assert response.status_code == 204, response.text
        assert export(client, scene.lawyer, scene.case_id).status_code == 404


class TestPdfExport:
    def test_pdf_with_hash_and_khmer_font(
        self, client: TestClient, scene: Scene, tmp_path: Path
    ) -> None:
        response = export(client, scene.lawyer, scene.case_id, "pdf")
        assert response.status_code == 200, response.text
        body = response.content
        assert body.startswith(b"%PDF-")
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["x-content-sha256"] == hashlib.sha256(body).hexdigest()
        assert b"NotoSansKhmer" in body  # the Khmer name made fpdf2 embed the Khmer font
        assert b"DejaVuSans" in body
        if shutil.which("pdftoppm") is None:
            pytest.skip("pdftoppm (poppler-utils) is not installed: page 1 not rendered")
        (tmp_path / "export.pdf").write_bytes(body)
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "110",
                "-png",
                "-f",
                "1",
                "-l",
                "1",
                str(tmp_path / "export.pdf"),
                str(tmp_path / "page"),
            ],
            check=True,
            timeout=60,
        )
        pages = list(tmp_path.glob("page*.png"))
        assert len(pages) == 1 and pages[0].stat().st_size > 5000

    def test_text_of_the_pdf(self, client: TestClient, scene: Scene, tmp_path: Path) -> None:
        if shutil.which("pdftotext") is None:
            pytest.skip("pdftotext (poppler-utils) is not installed")
        body = export(client, scene.lawyer, scene.case_id, "pdf").content
        (tmp_path / "export.pdf").write_bytes(body)
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(tmp_path / "export.pdf"), "-"],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout.decode()
        for expected in (
            "Case record",
            "Sok Dara",
            "N01234567",
            "asylum seeker",
            "Timeline",
            "Person registered",
            "Page 1 of ",
        ):
            assert expected in text
        assert "Lat Phrao" not in text

    def test_pdf_export_is_audited(self, client: TestClient, app: FastAPI, scene: Scene) -> None:
        response = export(client, scene.lawyer, scene.case_id, "pdf")
        entries = [e for e in audit_actions(app, scene.case_id) if e.action == "case.export"]
        assert [json.loads(e.details or "{}")["format"] for e in entries] == ["pdf"]
        assert (
            json.loads(entries[0].details or "{}")["sha256"] == response.headers["x-content-sha256"]
        )

    def test_script_without_a_font_is_stated(
        self, client: TestClient, team: Team, tmp_path: Path
    ) -> None:
        worker = team.member("caseworker")
        person = team.person(worker, full_name="Aung Min", native_name="အောင်မင်း")
        case_id = str(team.case(worker, person)["id"])
        body = export(client, worker, case_id, "pdf").content
        assert body.startswith(b"%PDF-")
        if shutil.which("pdftotext") is None:
            pytest.skip("pdftotext (poppler-utils) is not installed")
        (tmp_path / "export.pdf").write_bytes(body)
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(tmp_path / "export.pdf"), "-"],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout.decode()
        assert "[Myanmar text not shown]" in text
        assert "Myanmar script in Person > native_name" in " ".join(text.split())


class TestScriptCoverage:
    @pytest.mark.parametrize(
        ("text", "shown", "scripts"),
        [
            (KHMER_NAME, KHMER_NAME, []),
            ("ไทย ລາວ Ωμέγα Привет", "ไทย ລາວ Ωμέγα Привет", []),
            ("Aung အောင် မင်း Min", "Aung [Myanmar text not shown] Min", ["Myanmar"]),
            (
                "中文 and 한국어",
                "[CJK text not shown] and [Hangul text not shown]",
                ["CJK", "Hangul"],
            ),
        ],
    )
    def test_visible(self, text: str, shown: str, scripts: list[str]) -> None:
        assert glyphs.visible(text) == (shown, scripts)

    def test_khmer_needs_shaping_and_latin_does_not(self) -> None:
        assert glyphs.needs_shaping(KHMER_NAME)
        assert not glyphs.needs_shaping("Sok Dara — 2025-01-01 → revoked")
