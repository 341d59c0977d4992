"""A lawyer's as-of export in a real browser: the history as it stood at a moment, then the
evidence bundle of that moment, downloaded from the case's page."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest

from tests.web.conftest import Live, Watch, screenshot
from tests.web.test_browser import assert_local_only, expect, sign_in
from tests.web.world import CaseWorld

pytestmark = pytest.mark.timeout(120)


def test_a_lawyer_exports_the_bundle_as_of_a_moment(
    live: Live, context: tuple[Any, Watch], case_world: CaseWorld
) -> None:
    ctx, watch = context
    page = ctx.new_page()
    sign_in(page, live, case_world.lawyer)
    page.goto(f"{live.url}/cases/{case_world.case_id}")
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0)
    page.locator("#history-as-of").fill(moment.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#history-title")).to_contain_text("History as of")
    page.evaluate("document.getElementById('export-title').scrollIntoView()")
    screenshot(page, "lawyer-export")
    page.get_by_label("Format").select_option("bag")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export as of that moment").click()
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    with open(download.path(), "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    info_file = next(n for n in archive.namelist() if n.endswith("/bag-info.txt"))
    text = archive.read(info_file).decode()
    assert f"Haven-As-Of: {moment.isoformat()}" in text
    assert_local_only(watch)
