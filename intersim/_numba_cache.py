"""Where numba's kernel caches live, and dropping them when intersim's sources change.

numba checks a cached kernel only against the file that defines it: a kernel that calls a kernel
of another module keeps running that other kernel's *old* code after it changes (numba issue
#1833, open; numba's docs, "Cache invalidation fails to recognize changes in functions defined in
a different file"). intersim's kernels call across modules (the capacitor step inside the cycle
kernels, the planner's model inside its search), so an edited or upgraded intersim could silently
run stale arithmetic. The guard here keeps a stamp of every source file's size and modification
time beside the caches it manages and deletes those caches when the stamp differs, before any
kernel is loaded: one recompilation after a change, never a stale kernel.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: the stamp file's name, in the cache directory it guards
STAMP = "intersim-sources.stamp"
_CACHE_SUFFIXES = (".nbi", ".nbc")


def sources_stamp(package: Path) -> str:
    """A digest of every ``.py`` file's relative path, size and modification time [ns] under
    ``package`` (any edit, checkout or reinstall changes it)."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(package).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def drop_stale_caches(package: Path, cache_dir: Path | None) -> int:
    """Delete numba's cache files of intersim when its sources changed since they were written.

    Parameters
    ----------
    package : Path  the ``intersim`` package directory
    cache_dir : Path or None  the directory numba caches intersim's kernels in, used for nothing
        else (intersim's own user cache); None: numba's default, the ``__pycache__`` folders
        inside ``package``

    Returns the number of cache files deleted. The stamp lives in ``cache_dir`` (or
    ``package/__pycache__``); where it cannot be written (a read-only install), nothing is done.
    """
    stamp_dir = cache_dir if cache_dir is not None else package / "__pycache__"
    stamp_file = stamp_dir / STAMP
    now = sources_stamp(package)
    try:
        if stamp_file.read_text() == now:
            return 0
    except OSError:
        pass
    roots = [cache_dir] if cache_dir is not None else [p for p in package.rglob("__pycache__") if p.is_dir()]
    dropped = 0
    for root in roots:
        for path in root.rglob("*"):
            if path.suffix in _CACHE_SUFFIXES:
                try:
                    path.unlink()
                    dropped += 1
                except OSError:  # (another process got there first, or no permission)
                    pass
    try:
        stamp_dir.mkdir(parents=True, exist_ok=True)
        tmp = stamp_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(now)
        os.replace(tmp, stamp_file)
    except OSError:
        pass
    return dropped
