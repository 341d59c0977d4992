"""A supervisor moves a spreadsheet in through the browser: upload, preview, dry run, import."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import transaction
from app.models.individual import Individual
from tests.factories import make_organisation, make_user
from tests.imports.support import csv_bytes, person
from tests.web.conftest import Live, Watch
from tests.web.test_browser import assert_local_only, expect, sign_in

pytestmark = pytest.mark.timeout(180)


def test_a_supervisor_uploads_previews_checks_and_imports(
    live: Live, context: tuple[Any, Watch], tmp_path: Path
) -> None:
    ctx, watch = context
    org = make_organisation(live.app)
    user = make_user(live.app, "supervisor", organisation=org)
    rows = [person(), person(**{"Nationality": "Narnia"}), person()]
    sheet = tmp_path / "caseload.csv"
    sheet.write_bytes(csv_bytes(rows, encoding="utf-16", delimiter="\t"))
    page = ctx.new_page()
    sign_in(page, live, user)

    page.goto(f"{live.url}/supervisor")
    page.get_by_role("link", name="Import a spreadsheet").click()
    page.get_by_label("File", exact=True).set_input_files(str(sheet))
    page.get_by_role("button", name="Upload and preview").click()

    preview = page.locator("#preview")
    expect(preview).to_contain_text(rows[0]["Full name"])
    expect(preview).to_contain_text("not a country")  # row 3, as read
    page.get_by_role("button", name="Check every row (dry run)").click()
    expect(page.locator("#problems")).to_contain_text("Nationality")
    expect(page.get_by_role("status")).to_contain_text("would import 2")
    with transaction(live.app.state.sessionmaker) as session:
        count = select(func.count()).select_from(Individual)
        assert session.scalar(count.where(Individual.organisation_id == org.id)) == 0

    page.get_by_label(re.compile("Import the valid rows")).check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#summary")).to_contain_text("imported 2")
    with transaction(live.app.state.sessionmaker) as session:
        assert session.scalar(count.where(Individual.organisation_id == org.id)) == 2
    assert_local_only(watch)
