"""Child processes: how one ended, in words a person can act on (`killed by signal 11 (SIGSEGV,
segmentation fault)` rather than `exit code -11`), and tying one's life to its parent's."""

from __future__ import annotations

import ctypes
import os
import signal


def exit_description(code: int) -> str:
    if code >= 0:
        return f"exit code {code}"
    try:
        number = signal.Signals(-code)
    except ValueError:
        return f"killed by signal {-code}"
    meaning = (signal.strsignal(number) or "").lower()
    return f"killed by signal {-code} ({number.name}{', ' + meaning if meaning else ''})"


def crash_hint(code: int) -> str:
    """What to try when a step dies by a signal rather than failing with a message."""
    if code == -signal.SIGKILL:
        return "SIGKILL usually means the machine ran out of memory (see `dmesg`) or something killed it"
    if code in (-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGILL, -signal.SIGABRT, -signal.SIGFPE):
        return ("a native library crashed (llama.cpp, torch, LightGBM); the log's last lines name it. "
                "For llama.cpp, `modelops doctor` shows the CPU features and the weight-repack setting "
                "(MODELOPS_LLAMA_REPACK=off avoids the AMX repack crash)")
    return ""


def die_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent dies (even by kill -9), so no orphan keeps working
    into a folder that nobody will read. Call it in the child (`preexec_fn`, a pool's initializer)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:              # the parent died before the request took effect
        os._exit(1)
