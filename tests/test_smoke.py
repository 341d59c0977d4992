from fastapi.testclient import TestClient


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_every_check(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body == {
        "status": "ready",
        "checks": {"database": "ok", "lockdown": "ok", "keyring": "ok", "migrations": "ok"},
    }
