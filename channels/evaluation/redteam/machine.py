"""Machine facts for the timing: load average, the embedded model server's CPU and metrics."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channels.services import Platform


def load_average() -> float | None:
    with contextlib.suppress(OSError):
        return round(os.getloadavg()[0], 2)
    return None


def _server_pid(services: Platform) -> int | None:
    llm = getattr(services, "_llm", None)
    server = getattr(llm, "server", None)
    return getattr(server, "pid", None)


def server_cpu(services: Platform) -> float | None:
    """CPU seconds of the embedded model server (its own process); None when remote."""
    pid = _server_pid(services)
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def server_metrics(services: Platform) -> dict[str, float] | None:
    llm = getattr(services, "_llm", None)
    server = getattr(llm, "server", None)
    if server is None:
        return None
    try:
        return dict(server.metrics())
    except Exception:  # noqa: BLE001 - metrics are informative only
        return None
