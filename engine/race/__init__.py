"""Floor 3 of the engine: the race of optimizers on a surface (Race, run_race), its kernels,
racers with schedules and clipping, counter-based random numbers and the status of a racer."""
from .gradients import Clip
from .race import Race, RaceResult, run_race
from .racer import Racer
from .schedules import Schedule
from .status import Standing, Status

__all__ = ["Clip", "Race", "RaceResult", "Racer", "Schedule", "Standing", "Status", "run_race"]
