"""The machine a benchmark ran on: CPU, cores, memory, OS, Python, git revision, thread
pools and the versions of the packages compared."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "numba",
    "torch",
    "shap",
    "shapiq",
    "captum",
    "shapkit",
)


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (falls back to ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    """Total memory from /proc/meminfo."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def package_version(name: str) -> str:
    """Installed version of a distribution, else the module's ``__version__`` (source tree)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        module = importlib.import_module(name.replace("-", "_"))
    except Exception:  # noqa: BLE001
        return "not installed"
    return f"{getattr(module, '__version__', 'unknown')} (not installed, imported from source)"


def git_revision() -> str:
    """``git describe --always --dirty`` of the working tree (``"uncommitted"`` if no commit)."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"
    return out.stdout.strip()


def thread_pools() -> str:
    """BLAS/OpenMP thread pools as threadpoolctl sees them (empty when unavailable)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    pools = {f"{p['internal_api']} x{p['num_threads']}" for p in threadpool_info()}
    return ", ".join(sorted(pools)) or "none loaded"


def machine_description() -> dict[str, str]:
    """CPU, core count, memory, OS, Python and package versions."""
    info = {
        "CPU": cpu_model(),
        "cores (usable)": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "memory": memory_gib(),
        "OS": platform.platform(),
        "python": platform.python_version(),
        "git": git_revision(),
        "thread pools": thread_pools(),
    }
    info.update({name: package_version(name) for name in PACKAGES})
    return info
