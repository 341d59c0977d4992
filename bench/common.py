"""Timing helpers, figures and the machine description shared by every benchmark."""

from __future__ import annotations

import os
import platform
import statistics
import timeit
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One reported number. ``ok`` is None when the figure has no goal."""

    key: str
    label: str
    value: float | None
    unit: str
    goal: str = ""
    verdict: str = ""
    ok: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["key"]
        return data


@dataclass(frozen=True)
class Loops:
    """timeit-style loops: ``repeat`` timings of ``number`` calls each, median reported."""

    repeat: int
    number: int


def time_interleaved(timers: dict[str, timeit.Timer], loops: Loops) -> dict[str, dict[str, Any]]:
    """Median µs per call of each statement; repeats alternate between the statements so a
    burst of noise on the shared machine hits all of them rather than one."""
    for timer in timers.values():  # warm-up: caches, branch predictors, lazy imports
        timer.timeit(max(1, loops.number // 10))
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(loops.repeat):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(loops.number) / loops.number * 1e6)
    return {
        name: {
            "median_us": statistics.median(values),
            "min_us": min(values),
            "max_us": max(values),
            "repeat": loops.repeat,
            "number": loops.number,
        }
        for name, values in samples.items()
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(flags & {"aes", "vaes", "sha_ni", "avx2", "avx512f", "pclmulqdq"})
    except OSError:
        pass
    return []


def machine() -> dict[str, Any]:
    import sqlite3

    import cryptography
    import sqlalchemy
    from cryptography.hazmat.backends.openssl.backend import backend

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "load_average": load,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cryptography": cryptography.__version__,
        "openssl": backend.openssl_version_text(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
    }
