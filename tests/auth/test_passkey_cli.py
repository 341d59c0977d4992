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
