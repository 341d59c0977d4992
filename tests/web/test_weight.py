"""Page weight: the pages a caseworker opens most stay under 100 KB on a weak connection.

Weight is the page's HTML plus its CSS and script (the pages load nothing else: no images, no
fonts). The figures, with server time, come from ``python -m bench.web``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bench.web import Pages, page_weight, populate, sign_in
from tests.conftest import deployment_of_its_own, fresh_address

BUDGET = 100 * 1024


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """A deployment of a few organisations, as Haven's are (the shared test database holds
    hundreds, each an option of the referral form's organisation picker)."""
    with deployment_of_its_own(tmp_path_factory.mktemp("weight")) as application:
        yield application


@pytest.fixture(scope="module")
def pages(app: FastAPI) -> Pages:
    return populate(app, alerts_open=50, entries=200)


@pytest.fixture
def signed_in(app: FastAPI, pages: Pages) -> TestClient:
    client = TestClient(app, client=(fresh_address(), 1))
    sign_in(client, pages.username)
    return client


def test_the_inbox_with_50_open_alerts_is_under_budget(signed_in: TestClient, pages: Pages) -> None:
    sizes = page_weight(signed_in, pages.inbox)
    assert sizes["total"] < BUDGET, sizes
    html = signed_in.get(pages.inbox).text
    assert html.count('<li class="alert ') == 40
    assert "Show older open alerts" in html


def test_the_rest_of_the_inbox_is_one_link_away(signed_in: TestClient, pages: Pages) -> None:
    html = signed_in.get(pages.inbox).text
    link = html.split('href="/?open_after=', 1)[1].split('"', 1)[0]
    older = signed_in.get(f"/?open_after={link}").text
    assert older.count('<li class="alert ') == 10


def test_a_case_with_200_history_entries_is_under_budget(
    signed_in: TestClient, pages: Pages
) -> None:
    sizes = page_weight(signed_in, pages.case)
    assert sizes["total"] < BUDGET, sizes
    assert "(200 entries, oldest first)" in signed_in.get(pages.case).text
