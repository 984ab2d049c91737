"""What happens to a gradient before the optimizer sees it, as declarative specs: seeded
Gaussian noise, then clipping by norm or by value; a :class:`Clip` is one racer's choice."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import step_kernels as SK
from ..optim.specs import ChoiceSpec, Hyper, pack
from ..optim.registry import Registry

_THRESHOLD = dict(default=1.0, lo=1e-3, hi=1e3, log=True)

_MODES = (
    ChoiceSpec(
        "none", "None", SK.NO_CLIP, (),
        caption="The optimizer sees the gradient as it is.",
        formula="g' = g",
    ),
    ChoiceSpec(
        "norm", "By norm", SK.CLIP_NORM,
        (Hyper("threshold", help="largest gradient norm the optimizer sees (clip_grad_norm_'s max_norm)", **_THRESHOLD),),
        caption="Scale the whole gradient down when its norm exceeds the threshold: the direction "
                "is kept, the length capped. The remedy for exploding gradients.",
        formula="g' = g * min(1, threshold / (||g|| + 1e-6))",
        torch="torch.nn.utils.clip_grad_norm_(parameters, max_norm=threshold)",
        citation="Pascanu, Mikolov & Bengio 2013, On the difficulty of training recurrent neural networks",
        notes="The norm is over the whole gradient: a 2-D racer's own gradient, or every parameter "
              "of a network (torch's global norm over all parameters). The 1e-6 is torch's: a "
              "gradient slightly shorter than the threshold is scaled by a factor just below 1, and "
              "a clipped gradient is just shorter than the threshold. Pascanu et al. scale by "
              "threshold / ||g|| exactly; the two differ by about 1e-6 / ||g|| relative.",
    ),
    ChoiceSpec(
        "value", "By value", SK.CLIP_VALUE,
        (Hyper("threshold", help="largest |component| the optimizer sees (clip_grad_value_'s clip_value)", **_THRESHOLD),),
        caption="Cap every component of the gradient at +-threshold on its own: the direction can turn.",
        formula="g'_i = min(max(g_i, -threshold), threshold)",
        torch="torch.nn.utils.clip_grad_value_(parameters, clip_value=threshold)",
        citation="Mikolov 2012, Statistical language models based on neural networks (PhD thesis)",
    ),
)
CLIPS = Registry("clipping", _MODES)

NOISE = ChoiceSpec(
    "noise", "Gaussian gradient noise", 0,
    (Hyper("noise", 0.0, 0.0, 10.0, help="standard deviation of the Gaussian noise added to every gradient component"),),
    caption="Add seeded Gaussian noise to every gradient component, the same draws for every racer: "
            "a stand-in for the noise of mini-batch gradients. Noise is added before clipping.",
    formula="g <- g + noise * N(0, 1), one draw per step and component, keyed by (seed, step, component)",
    torch="no torch.optim counterpart (in a training loop: p.grad += noise * torch.randn_like(p.grad))",
    citation="Neelakantan et al. 2015, Adding gradient noise improves learning for very deep networks",
    notes="The draws are a pure function of (seed, step, component), so a step recomputed from a "
          "checkpoint sees the same noise; a network race draws from its own stream, apart from "
          "its dropout masks. Neelakantan et al. let the variance decay over training; here it is constant.",
)


def check_noise(noise: float) -> float:
    """``noise`` as a float, or a ValueError unless it is finite and >= 0 (the spec's range is
    the slider's; a script may go beyond it)."""
    if not (noise >= 0 and np.isfinite(noise)):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    return float(noise)


@dataclass(frozen=True)
class Clip:
    """Gradient clipping, applied to the (noisy) gradient before the optimizer sees it."""

    mode: str = "none"
    threshold: float | None = None  # None: the mode's default

    @property
    def spec(self) -> ChoiceSpec:
        return CLIPS.get(self.mode)

    def array(self) -> np.ndarray:
        """The kernel's row (mode, threshold), validated against the spec."""
        spec = self.spec
        given = {h.name: self.threshold for h in spec.params if self.threshold is not None}
        p = pack(spec.params, given, f"clipping {spec.id}")
        row = np.zeros(SK.CLIP_COLS)
        row[0] = spec.code
        row[1:1 + p.size] = p
        return row
