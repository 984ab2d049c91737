"""Suite-wide settings: Qt tests run without a screen, and nothing the tests write reaches
the user's own folders."""
import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Compiled formula modules are kept between runs (a formula costs seconds of numba compile),
# but beside the checkout rather than in the user's cache.
os.environ.setdefault("OPTIRACE_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "optirace"))
os.environ.setdefault("OPTIRACE_CONFIG_DIR", tempfile.mkdtemp(prefix="optirace-config-"))
