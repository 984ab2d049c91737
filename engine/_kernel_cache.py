"""Drop numba's on-disk cache of the engine's kernels when any engine source changes.

numba keys a cached kernel on its own file's timestamp only, so a kernel that inlines code
from another module (the race driver inlines every optimizer) would keep running the old
code after that module changes.  One hash over all engine sources that use numba guards them all.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

_ROOT = Path(__file__).resolve().parent
_STAMP = "optirace-sources.sha256"


def sources_hash() -> str:
    h = hashlib.sha256()
    for p in sorted(_ROOT.rglob("*.py")):
        text = p.read_bytes()
        if b"numba" not in text:
            continue  # only kernel sources can leave stale compiled code behind
        h.update(p.relative_to(_ROOT).as_posix().encode())
        h.update(text)
    return h.hexdigest()


def invalidate_if_stale() -> None:
    """Remove cached kernels under engine/ when the sources differ from those that built them."""
    cache = _ROOT / "__pycache__"
    stamp = cache / _STAMP
    digest = sources_hash()
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        for f in _ROOT.rglob("__pycache__/*.nb[ic]"):
            f.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        # A read-only install: numba then caches in the user's folder, keyed per file as usual.
        pass
