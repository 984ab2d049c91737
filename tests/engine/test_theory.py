"""The theory overlay's numbers: eigen-directions, stability limits and Polyak's best constants."""
import numpy as np
import pytest

from engine.surfaces import catalog as S
from engine.surfaces import theory
from engine.race.race import run_race
from engine.race.status import Status


@pytest.mark.parametrize("kappa,angle", [(25.0, 0.0), (100.0, 30.0)])
def test_quadratic_analysis_matches_the_surface(kappa, angle):
    q = theory.analyse(S.bind("quadratic", {"kappa": kappa, "angle": angle}))
    assert q.lam_min == pytest.approx(1.0) and q.lam_max == pytest.approx(kappa) and q.kappa == pytest.approx(kappa)
    th = np.radians(angle)
    # The stiff direction is v = (-sin, cos) of the rotated valley.
    assert abs(q.eigvecs[:, 1] @ np.array([-np.sin(th), np.cos(th)])) == pytest.approx(1.0)
    assert q.best_gd() == pytest.approx(2 / (1 + kappa))
    mu, lr = q.best_momentum()
    r = np.sqrt(kappa)
    assert mu == pytest.approx(((r - 1) / (r + 1)) ** 2) and lr == pytest.approx(4 / (r + 1) ** 2)


def test_non_quadratic_surfaces_have_no_overlay():
    assert theory.analyse(S.bind("rosenbrock")) is None


def test_limits_and_best_rates_behave_as_stated_on_the_ravine():
    q = theory.analyse(S.bind("quadratic", {"kappa": 25.0}))
    assert theory.stability_limit(q, "adam", {}) is None
    lim = theory.stability_limit(q, "sgd", {})
    assert lim == pytest.approx(2 / 25)
    assert theory.stability_limit(q, "momentum", {"momentum": 0.5}) == pytest.approx(2 * 1.5 / 25)
    racers = [("sgd", {"lr": 0.99 * lim}), ("sgd", {"lr": 1.01 * lim}),
              ("sgd", {"lr": theory.best_lr(q, "sgd", {})}),
              ("momentum", {"lr": theory.best_lr(q, "momentum", {"momentum": q.best_momentum()[0]}),
                            "momentum": q.best_momentum()[0]})]
    r = run_race("quadratic", (-2.5, 1.5), racers, 3000, surface_params={"kappa": 25.0})
    kinds = [s.kind for s in r.status]
    assert kinds[0] == Status.FINISHED
    # 1% past the limit the error grows by about 2% a step: unbounded, if not yet overflowing.
    assert r.losses[1, -1] > 1e20 * r.losses[1, 0]
    # Polyak's constants beat the best plain step, which beats a step near the limit.
    assert r.status[3].step < r.status[2].step < r.status[0].step
