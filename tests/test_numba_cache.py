"""The stale-kernel guard (:mod:`intersim._numba_cache`): numba's caches of intersim are dropped
when any source file changes, kept otherwise; pyc files and foreign files are never touched."""
import os

from intersim._numba_cache import STAMP, drop_stale_caches, sources_stamp


def _package(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub" / "__pycache__").mkdir(parents=True)
    (pkg / "__pycache__").mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    for name in ("a.f-3.py311.nbi", "a.f-3.py311.1.nbc", "a.cpython-311.pyc"):
        (pkg / "__pycache__" / name).write_text("cache")
    (pkg / "sub" / "__pycache__" / "b.g-9.py311.nbi").write_text("cache")
    return pkg


def test_caches_dropped_once_after_a_source_change_and_kept_otherwise(tmp_path):
    pkg = _package(tmp_path)
    assert drop_stale_caches(pkg, None) == 3  # no stamp yet: nothing is known to be fresh
    assert (pkg / "__pycache__" / "a.cpython-311.pyc").exists()  # Python's own caches stay
    assert (pkg / "__pycache__" / STAMP).read_text() == sources_stamp(pkg)
    (pkg / "__pycache__" / "a.f-3.py311.nbi").write_text("recompiled")
    assert drop_stale_caches(pkg, None) == 0  # unchanged sources: the caches are kept
    assert (pkg / "__pycache__" / "a.f-3.py311.nbi").exists()
    # an edit of another module than the cached kernel's still drops it (numba would keep it)
    b = pkg / "sub" / "b.py"
    b.write_text("y = 3\n")
    os.utime(b, ns=(b.stat().st_atime_ns, b.stat().st_mtime_ns + 1_000_000))
    assert drop_stale_caches(pkg, None) == 1
    assert not (pkg / "__pycache__" / "a.f-3.py311.nbi").exists()


def test_a_separate_cache_directory_holds_its_own_stamp(tmp_path):
    pkg = _package(tmp_path)
    cache = tmp_path / "user-cache"
    (cache / "deep").mkdir(parents=True)
    (cache / "deep" / "k.f-1.py311.nbi").write_text("cache")
    assert drop_stale_caches(pkg, cache) == 1  # only the cache directory's files
    assert (pkg / "__pycache__" / "a.f-3.py311.nbi").exists()
    assert (cache / STAMP).exists() and not (pkg / "__pycache__" / STAMP).exists()
    assert drop_stale_caches(pkg, cache) == 0
