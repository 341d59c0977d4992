"""`haven users reset-passkeys`: the operator's reset at the console, audited."""

from __future__ import annotations

from tests.factories import unique
from tests.test_cli import Deployment, _audit_actions, _create, deployment

__all__ = ["deployment"]  # the fixture, shared with tests/test_cli.py


def test_reset_passkeys_at_the_console(deployment: Deployment) -> None:
    username, user_id = _create(deployment)
    reset = deployment.run("users", "reset-passkeys", username)
    assert reset.code == 0, reset.stderr
    assert f"0 passkey(s) removed for {username}" in reset.stdout
    assert "user.passkeys_reset" in _audit_actions(deployment, user_id)
    unknown = deployment.run("users", "reset-passkeys", unique("nobody"))
    assert "no user named" in unknown.one_error_line()


def test_link_an_account_to_single_sign_on(deployment: Deployment) -> None:
    username, user_id = _create(deployment)
    off = deployment.run("users", "link-sso", username, "staff-42")
    assert "single sign-on is not set up" in off.one_error_line()
    env = {
        **deployment.env,
        "HAVEN_OIDC_ISSUER": "https://id.example.org",
        "HAVEN_OIDC_CLIENT_ID": "haven",
    }
    linked = Deployment(deployment.root, env).run("users", "link-sso", username, "staff-42")
    assert linked.code == 0, linked.stderr
    assert "as staff-42" in linked.stdout
    assert "user.oidc_linked" in _audit_actions(deployment, user_id)
