"""OptiRace numerics: surfaces, optimizers and the race engine (no Qt)."""
