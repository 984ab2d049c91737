"""OptiRace numerics: surfaces, optimizers and the race engine (no Qt)."""
from ._kernel_cache import invalidate_if_stale

invalidate_if_stale()
