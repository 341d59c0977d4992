"""Running the real `haven` command in subprocesses on the delivery tests' database."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HAVEN_DATABASE_URL=settings.database_url,
        HAVEN_DATA_DIR=str(settings.data_dir),
        HAVEN_MASTER_KEY_FILE=str(settings.key_file),
        HAVEN_WEBHOOK_ALLOW_HOSTS=settings.webhook_allow_hosts,
        HAVEN_PUBLIC_URL=settings.public_url,
        HAVEN_ENV="development",
        HAVEN_LOG_FORMAT="text",
        HAVEN_SMTP_URL="",
        **extra,
    )
    return env


class Process:
    """A `python -m app …` subprocess whose stderr is collected in the background."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.seen: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.seen.append(line)
            self._lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in self._lines.get(timeout=0.1):
                    return
            except queue.Empty:
                if self.popen.poll() is not None:
                    break
        pytest.fail(f"never printed {text!r}:\n{''.join(self.seen)}")

    def terminate(self, timeout: float = 20) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            pytest.fail(f"did not stop within {timeout} s of SIGTERM:\n{''.join(self.seen)}")

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
