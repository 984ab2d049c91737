"""Stale numba caches are dropped when any engine source changes."""
from engine import _kernel_cache as kc


def test_stale_cache_files_are_removed(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("import numba\nx = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    kernel = cache / "a.k-1.py311.nbi"
    kernel.write_bytes(b"old")
    monkeypatch.setattr(kc, "_ROOT", tmp_path)
    kc.invalidate_if_stale()
    assert not kernel.exists()
    kernel.write_bytes(b"new")
    kc.invalidate_if_stale()  # sources unchanged: the cache stays
    assert kernel.exists()
    (tmp_path / "a.py").write_text("import numba\nx = 2\n")
    kc.invalidate_if_stale()
    assert not kernel.exists()
