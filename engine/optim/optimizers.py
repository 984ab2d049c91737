"""The optimizer registry: one declarative spec per optimizer, over the kernels in
:mod:`engine.optim.kernels`.  Adding an optimizer is one entry here and its kernel."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from . import explain as E
from . import kernels as K
from .explain import Explanation, Term  # noqa: F401  (the public names)
from .registry import Registry
from .specs import DECAY, NON_NEGATIVE, UNIT, Hyper, defaults, pack, unpack


@dataclass(frozen=True)
class OptimizerSpec:
    id: str
    name: str
    family: int
    hyper: tuple[Hyper, ...]
    slots: tuple[str, ...]
    citation: str
    caption: str
    rule: str
    torch: str | None = None
    notes: str = ""
    # Largest stable learning rate on a quadratic with curvature lam, or None if it has none.
    stability: Callable[[float, Mapping[str, object]], float] | None = None
    needs_hessian: bool = False
    # Initial value of each state slot (a hyperparameter name or a number).
    slot_init: Mapping[str, object] = field(default_factory=dict)
    # The step as named quantities (engine.optim.explain): (x, g, state by slot, hyper, t,
    # hessian) -> (terms, formula, memory).
    explain: Callable | None = None

    def pack(self, values: Mapping[str, object] | None = None) -> np.ndarray:
        """Hyperparameters as the kernel's float64 array, validated against the spec."""
        arr = pack(self.hyper, values, self.name)
        vals = unpack(self.hyper, arr)
        if self.family == K.SGD and vals["nesterov"] and (vals["momentum"] <= 0 or vals["dampening"] != 0):
            raise ValueError(f"{self.name}: Nesterov momentum requires momentum > 0 and dampening = 0")
        return arr

    def defaults(self) -> dict[str, object]:
        return defaults(self.hyper)

    def unpack(self, array: np.ndarray) -> dict[str, object]:
        return unpack(self.hyper, array)

    def init(self, n: int, values: Mapping[str, object] | None = None) -> np.ndarray:
        """Fresh state (slots x n) for a parameter vector of length n."""
        if self.needs_hessian and n != 2:
            raise ValueError(
                f"{self.name} needs the exact Hessian, which only the 2-D surfaces provide; "
                f"it cannot train a network of {n} parameters"
            )
        vals = {**self.defaults(), **dict(values or {})}
        state = np.zeros((max(len(self.slots), 1), n), dtype=np.float64)
        for i, slot in enumerate(self.slots):
            v = self.slot_init.get(slot, 0.0)
            state[i, :] = float(vals[v]) if isinstance(v, str) else float(v)
        return state


# Sliders cover the usual settings; ``valid`` is what torch.optim accepts where torch has the
# optimizer, and otherwise the domain of the paper's algorithm.
def _lr(default, lo=1e-6, hi=10.0):
    return Hyper("lr", default, lo, hi, log=True, help="learning rate", valid=NON_NEGATIVE)


_EPS = lambda d: Hyper("eps", d, 0.0, 1.0, log=True, help="added to the denominator for stability", valid=NON_NEGATIVE)  # noqa: E731
_WD = Hyper("weight_decay", 0.0, 0.0, 1.0, help="L2 penalty added to the gradient", valid=NON_NEGATIVE)
_BETAS = lambda b=(0.9, 0.999): Hyper("betas", b, 0.0, 0.99999, help="decay rates of the first and second moment", valid=DECAY)  # noqa: E731
_DECOUPLED = lambda d=False: Hyper(  # noqa: E731
    "decoupled_weight_decay", d, help="shrink the weights directly (AdamW) instead of adding to the gradient"
)
# Every optimizer of Adam's kernel carries the switch (the kernel reads it); torch has none.
_BIAS_CORRECTION = Hyper("bias_correction", True, help="divide m and v by 1 − β1ᵗ and 1 − β2ᵗ (off: they start near 0)")


def _sgd_stability(lam, h):
    mu = float(h.get("momentum", 0.0))
    if h.get("nesterov"):
        return 2 * (1 + mu) / ((1 + 2 * mu) * lam)
    return 2 * (1 + mu) / lam if mu else 2 / lam


def _sgd_spec(id, name, momentum, nesterov, caption, rule):
    return OptimizerSpec(
        id=id,
        name=name,
        family=K.SGD,
        hyper=(
            _lr(1e-3),
            Hyper("momentum", momentum, 0.0, 0.999, help="velocity decay mu", valid=NON_NEGATIVE),
            # torch does not check dampening; outside [0, 1] it would amplify or flip the gradient.
            Hyper("dampening", 0.0, 0.0, 1.0, help="scales the new gradient by 1 - dampening", valid=UNIT),
            _WD,
            Hyper("nesterov", nesterov, help="look-ahead (Nesterov) momentum"),
        ),
        slots=("momentum_buffer",),
        citation="Robbins & Monro 1951; Polyak 1964; Sutskever et al. 2013",
        caption=caption,
        rule=rule,
        torch=f"torch.optim.SGD(momentum={momentum}, nesterov={nesterov})",
        notes=(
            "torch keeps the learning rate outside the velocity: b = mu*b + (1-dampening)*g, x -= lr*b. "
            "The lecture's form v = mu*v - lr*g, x += v is the same trajectory for a constant lr "
            "(v = -lr*b), but differs when lr changes during training. torch starts b at the first "
            "gradient, without dampening. Nesterov in torch is Sutskever's reparametrisation: "
            "x -= lr*(g + mu*b), evaluating the gradient at the current point rather than at a look-ahead point."
            if momentum
            else "Plain gradient descent: x -= lr*g (torch.optim.SGD with momentum 0)."
        ),
        stability=_sgd_stability,
        explain=E.sgd,
    )


OPTIMIZERS = Registry("optimizer", [
    _sgd_spec("sgd", "SGD", 0.0, False, "Step straight down the gradient.", "x ← x − lr·g"),
    _sgd_spec(
        "momentum", "Momentum", 0.9, False,
        "A heavy ball: velocity builds up along consistent directions.",
        "b ← μ·b + (1 − dampening)·g\nx ← x − lr·b",
    ),
    _sgd_spec(
        "nesterov", "Nesterov", 0.9, True,
        "Momentum that corrects itself with a look-ahead gradient.",
        "b ← μ·b + (1 − dampening)·g\nx ← x − lr·(g + μ·b)",
    ),
    OptimizerSpec(
        id="adagrad", name="AdaGrad", family=K.ADAGRAD, explain=E.adagrad,
        hyper=(_lr(1e-2), Hyper("lr_decay", 0.0, 0.0, 1.0, valid=NON_NEGATIVE), _WD,
               Hyper("initial_accumulator_value", 0.0, 0.0, 10.0, valid=NON_NEGATIVE), _EPS(1e-10)),
        slots=("sum",), slot_init={"sum": "initial_accumulator_value"},
        citation="Duchi, Hazan & Singer 2011",
        caption="Per-coordinate steps shrink with the sum of all past squared gradients.",
        rule="G ← G + g²\nx ← x − lr / (1 + (t − 1)·lr_decay) · g / (√G + ε)",
        torch="torch.optim.Adagrad",
        notes="torch puts eps outside the square root, as the paper does.",
    ),
    OptimizerSpec(
        id="adadelta", name="AdaDelta", family=K.ADADELTA, explain=E.adadelta,
        hyper=(_lr(1.0, hi=100.0), Hyper("rho", 0.9, 0.0, 0.9999, valid=UNIT), _EPS(1e-6), _WD),
        slots=("square_avg", "acc_delta"),
        citation="Zeiler 2012",
        caption="Units-correct steps: ratio of RMS past updates to RMS gradients.",
        rule="E[g²] ← ρ·E[g²] + (1 − ρ)·g²\n"
        "Δ = √(E[Δx²] + ε) / √(E[g²] + ε) · g\n"
        "E[Δx²] ← ρ·E[Δx²] + (1 − ρ)·Δ²\nx ← x − lr·Δ",
        torch="torch.optim.Adadelta",
        notes="torch multiplies the paper's step by lr (default 1.0, which is the paper's rule).",
    ),
    OptimizerSpec(
        id="rmsprop", name="RMSprop", family=K.RMSPROP, explain=E.rmsprop,
        hyper=(_lr(1e-2), Hyper("alpha", 0.99, 0.0, 0.9999, help="smoothing constant", valid=NON_NEGATIVE),
               _EPS(1e-8), _WD, Hyper("momentum", 0.0, 0.0, 0.999, valid=NON_NEGATIVE),
               Hyper("centered", False, help="divide by the variance, not the raw second moment")),
        slots=("square_avg", "grad_avg", "momentum_buffer"),
        citation="Tieleman & Hinton 2012 (lecture 6e); Graves 2013 (centered)",
        caption="Divide the step by a running RMS of recent gradients.",
        rule="v ← α·v + (1 − α)·g²\n[centered: ḡ ← α·ḡ + (1 − α)·g;  ṽ = v − ḡ², else ṽ = v]\n"
        "x ← x − lr·g / (√ṽ + ε)\n[momentum: b ← μ·b + g / (√ṽ + ε);  x ← x − lr·b]",
        torch="torch.optim.RMSprop",
        notes="torch adds eps outside the square root (Hinton's slides put it inside) and applies momentum to the scaled step.",
    ),
    OptimizerSpec(
        id="adam", name="Adam", family=K.ADAM, explain=E.adam,
        hyper=(_lr(1e-3), _BETAS(), _EPS(1e-8), _WD, Hyper("amsgrad", False), _DECOUPLED(False),
               _BIAS_CORRECTION),
        slots=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
        citation="Kingma & Ba 2015",
        caption="Momentum plus RMS scaling, with bias correction for the zero start.",
        rule="m ← β1·m + (1 − β1)·g\nv ← β2·v + (1 − β2)·g²\nm̂ = m / (1 − β1ᵗ);  v̂ = v / (1 − β2ᵗ)"
        "  [bias_correction off: m̂ = m, v̂ = v]\nx ← x − lr·m̂ / (√v̂ + ε)",
        torch="torch.optim.Adam",
        notes="torch adds eps to sqrt(v)/sqrt(1-b2^t), i.e. eps-hat = eps*sqrt(1-b2^t) in the paper's "
        "efficient form; identical to the paper's algorithm 1 as written. bias_correction off is the "
        "paper's algorithm 1 without its two bias-correction lines (x -= lr*m / (sqrt(v) + eps)), the "
        "estimates biased towards the zero start that the paper's section 3 discusses; "
        "torch.optim.Adam has no such switch (always on).",
    ),
    OptimizerSpec(
        id="adamw", name="AdamW", family=K.ADAM, explain=E.adam,
        hyper=(_lr(1e-3), _BETAS(), _EPS(1e-8), Hyper("weight_decay", 1e-2, 0.0, 1.0, valid=NON_NEGATIVE),
               Hyper("amsgrad", False), _DECOUPLED(True), _BIAS_CORRECTION),
        slots=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
        citation="Loshchilov & Hutter 2019",
        caption="Adam with weight decay applied to the weights, not mixed into the gradient.",
        rule="x ← x·(1 − lr·λ)\nthen the Adam step (m, v, m̂, v̂ as in Adam)",
        torch="torch.optim.AdamW",
        notes="torch multiplies the decay by lr (the paper uses a separate schedule multiplier eta_t). "
        "bias_correction as in Adam (torch.optim.AdamW has no such switch).",
    ),
    OptimizerSpec(
        id="adamax", name="Adamax", family=K.ADAMAX, explain=E.adamax,
        hyper=(_lr(2e-3), _BETAS(), _EPS(1e-8), _WD),
        slots=("exp_avg", "exp_inf"),
        citation="Kingma & Ba 2015, section 7.1",
        caption="Adam with the infinity norm: scale by the running max of |g|.",
        rule="m ← β1·m + (1 − β1)·g\nu ← max(β2·u, |g| + ε)\nx ← x − lr / (1 − β1ᵗ) · m / u",
        torch="torch.optim.Adamax",
        notes="torch puts eps inside the max (the paper has no eps).",
    ),
    OptimizerSpec(
        id="nadam", name="NAdam", family=K.NADAM, explain=E.nadam,
        hyper=(_lr(2e-3), _BETAS(), _EPS(1e-8), _WD, Hyper("momentum_decay", 4e-3, 0.0, 1.0, valid=NON_NEGATIVE),
               _DECOUPLED(False)),
        slots=("exp_avg", "exp_avg_sq", "mu_product"), slot_init={"mu_product": 1.0},
        citation="Dozat 2016",
        caption="Adam with a Nesterov look-ahead on the momentum term.",
        rule="μₜ = β1·(1 − ½·exp(t·ψ·ln 0.96))\nm ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²\n"
        "x ← x − lr·(1 − μₜ) / (1 − Π μ) · g / (√v̂ + ε)\n      − lr·μₜ₊₁ / (1 − Π μ·μₜ₊₁) · m / (√v̂ + ε)",
        torch="torch.optim.NAdam",
        notes="torch follows Dozat's momentum schedule mu_t; the EMA of m itself uses plain b1.",
    ),
    OptimizerSpec(
        id="amsgrad", name="AMSGrad", family=K.ADAM, explain=E.adam,
        hyper=(_lr(1e-3), _BETAS(), _EPS(1e-8), _WD, Hyper("amsgrad", True), _DECOUPLED(False),
               _BIAS_CORRECTION),
        slots=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
        citation="Reddi, Kale & Kumar 2018",
        caption="Adam that never lets the second-moment estimate shrink.",
        rule="m, v as in Adam;  v_max ← max(v_max, v)\nx ← x − lr / (1 − β1ᵗ) · m / (√v_max / √(1 − β2ᵗ) + ε)",
        torch="torch.optim.Adam(amsgrad=True)",
        notes="torch keeps Adam's bias corrections (the paper's algorithm has none: bias_correction off "
        "drops them; torch.optim.Adam has no such switch) and takes the max of the raw v.",
    ),
    OptimizerSpec(
        id="radam", name="RAdam", family=K.RADAM, explain=E.radam,
        hyper=(_lr(1e-3), _BETAS(), _EPS(1e-8), _WD, _DECOUPLED(False)),
        slots=("exp_avg", "exp_avg_sq"),
        citation="Liu et al. 2020",
        caption="Adam that turns adaptivity on only once the variance estimate is reliable.",
        rule="m, v, m̂ as in Adam;  ρₜ = ρ∞ − 2t·β2ᵗ / (1 − β2ᵗ)\n"
        "if ρₜ > 5:  x ← x − lr·m̂·rₜ·√(1 − β2ᵗ) / (√v + ε)\nelse:       x ← x − lr·m̂",
        torch="torch.optim.RAdam",
        notes="torch switches on the adaptive step when rho_t > 5; the paper's algorithm uses rho_t > 4.",
    ),
    OptimizerSpec(
        id="adabelief", name="AdaBelief", family=K.ADABELIEF, explain=E.adabelief,
        hyper=(_lr(1e-3), _BETAS(), _EPS(1e-16), _WD, _DECOUPLED(True)),
        slots=("exp_avg", "exp_avg_var"),
        citation="Zhuang et al. 2020 (reference implementation adabelief-pytorch)",
        caption="Scale by how far the gradient strays from its prediction (the 'belief').",
        rule="m ← β1·m + (1 − β1)·g\ns ← β2·s + (1 − β2)·(g − m)² + ε\nx ← x − lr / (1 − β1ᵗ) · m / (√(s / (1 − β2ᵗ)) + ε)",
        notes="Not in torch. The authors' code defaults to a rectified (RAdam-like) variant; this is the "
        "paper's algorithm 1 without rectification.",
    ),
    OptimizerSpec(
        id="lion", name="Lion", family=K.LION, explain=E.lion,
        hyper=(_lr(1e-4), _BETAS((0.9, 0.99)), _WD),
        slots=("exp_avg",),
        citation="Chen et al. 2023 (symbolic discovery)",
        caption="Only the sign of an interpolated momentum: every coordinate moves by lr.",
        rule="c = β1·m + (1 − β1)·g\nx ← x − lr·(sign(c) + λ·x)\nm ← β2·m + (1 − β2)·g",
        notes="Not in torch; the paper's algorithm 2.",
    ),
    OptimizerSpec(
        id="yogi", name="Yogi", family=K.YOGI, explain=E.yogi,
        hyper=(_lr(1e-2), _BETAS(), _EPS(1e-3), Hyper("initial_accumulator_value", 1e-6, 0.0, 10.0, valid=NON_NEGATIVE),
               _WD),
        slots=("exp_avg", "exp_avg_sq"), slot_init={"exp_avg_sq": "initial_accumulator_value"},
        citation="Zaheer et al. 2018",
        caption="Adam whose second moment moves additively, so it cannot blow up a step.",
        rule="m ← β1·m + (1 − β1)·g\nv ← v − (1 − β2)·sign(v − g²)·g²\nx ← x − lr·m / (√v + ε)",
        notes="Not in torch; the paper's algorithm 2, which has no bias correction.",
    ),
    OptimizerSpec(
        id="qhm", name="QHM", family=K.QHM, explain=E.qhm,
        hyper=(_lr(1e-3), Hyper("momentum", 0.999, 0.0, 0.9999, help="beta", valid=DECAY),
               Hyper("nu", 0.7, 0.0, 1.0, help="weight of the momentum term", valid=UNIT), _WD),
        slots=("momentum_buffer",),
        citation="Ma & Yarats 2019",
        caption="A weighted average of a plain SGD step and a momentum step.",
        rule="b ← β·b + (1 − β)·g\nx ← x − lr·((1 − ν)·g + ν·b)",
        notes="Not in torch; the paper's QHM with its recommended nu = 0.7, beta = 0.999.",
    ),
    OptimizerSpec(
        id="qhadam", name="QHAdam", family=K.QHADAM, explain=E.qhadam,
        hyper=(_lr(1e-3), _BETAS((0.995, 0.999)), Hyper("nus", (0.7, 1.0), 0.0, 1.0, valid=UNIT), _EPS(1e-8), _WD),
        slots=("exp_avg", "exp_avg_sq"),
        citation="Ma & Yarats 2019",
        caption="Adam with quasi-hyperbolic averaging of the gradient in both moments.",
        rule="m, v as in Adam;  m̂ = m / (1 − β1ᵗ);  v̂ = v / (1 − β2ᵗ)\n"
        "x ← x − lr·((1 − ν1)·g + ν1·m̂) / (√((1 − ν2)·g² + ν2·v̂) + ε)",
        notes="Not in torch; the paper's QHAdam with its recommended nus (0.7, 1.0), betas (0.995, 0.999).",
    ),
    OptimizerSpec(
        id="newton", name="Newton", family=K.NEWTON, explain=E.newton,
        hyper=(_lr(1.0, hi=10.0), Hyper("damping", 0.0, 0.0, 100.0, help="added to the Hessian's diagonal",
                                         valid=NON_NEGATIVE)),
        slots=(),
        citation="Newton-Raphson; damped form as in Nocedal & Wright 2006",
        caption="Second order: jump to the minimum of the local quadratic model.",
        rule="x ← x − lr·(H + damping·I)⁻¹·g",
        notes="A reference racer for 2-D surfaces only. Newton goes to any stationary point, "
        "saddles included, and fails where H is singular.",
        needs_hessian=True,
    ),
])
# The names the library has always offered: spec(id) and names() in display order.
spec = OPTIMIZERS.get
names = OPTIMIZERS.ids
# Every spec packs to at most this many floats; the race stores hyperparameters as (R, MAX_HYPER).
MAX_HYPER = max(sum(h.size for h in s.hyper) for s in OPTIMIZERS)
MAX_SLOTS = max(max(len(s.slots), 1) for s in OPTIMIZERS)


def _checked(id, x, g, state, t, hyper, hessian):
    """Validated arguments of one step: spec, contiguous x and g, packed hyper, 2 x 2 Hessian."""
    s = spec(id)
    x = np.ascontiguousarray(x, dtype=np.float64)
    g = np.ascontiguousarray(g, dtype=np.float64)
    if x.shape != g.shape or x.ndim != 1:
        raise ValueError(f"x and g must be vectors of one length, got {x.shape} and {g.shape}")
    if state.shape != (max(len(s.slots), 1), x.shape[0]):
        raise ValueError(f"state for {id} must have shape {(len(s.slots), x.shape[0])}, got {state.shape}")
    if t < 1:
        raise ValueError(f"step t is 1-based, got {t}")
    h = hyper if isinstance(hyper, np.ndarray) else s.pack(hyper)
    if s.needs_hessian:
        if hessian is None or x.shape[0] != 2:
            raise ValueError(f"{s.name} needs a 2 x 2 Hessian and a 2-D point")
        hess = np.ascontiguousarray(hessian, dtype=np.float64)
    else:
        hess = np.zeros((2, 2))
    return s, x, g, h, hess


def update(id: str, x: np.ndarray, g: np.ndarray, state: np.ndarray, t: int,
           hyper: Mapping[str, object] | np.ndarray | None = None,
           hessian: np.ndarray | None = None) -> np.ndarray:
    """One step of optimizer ``id`` from plain arrays; returns the new parameters.

    ``state`` (from ``spec(id).init(n)``) is updated in place; ``t`` is the 1-based step.
    """
    s, x, g, h, hess = _checked(id, x, g, state, t, hyper, hessian)
    out = np.empty_like(x)
    K.step(s.family, x, g, hess, state, h, int(t), out)
    return out


def explain(id: str, x: np.ndarray, g: np.ndarray, state: np.ndarray,
            hyper: Mapping[str, object] | np.ndarray | None, t: int,
            hessian: np.ndarray | None = None) -> E.Explanation:
    """Step ``t`` of optimizer ``id`` written out as named quantities (``state`` is not
    modified): the terms in the kernel's own arithmetic, the step and new point the kernel
    takes, and the state after it.  Arguments as for :func:`update`."""
    s, x, g, h, hess = _checked(id, x, g, state, t, hyper, hessian)
    vals = s.unpack(h)
    before = {slot: state[i].copy() for i, slot in enumerate(s.slots)}
    after = np.array(state, dtype=np.float64)
    x_new = np.empty_like(x)
    K.step(s.family, x, g, hess, after, h, int(t), x_new)
    terms, formula, memory = s.explain(x, g, before, vals, int(t), hess)
    return E.Explanation(
        optimizer=s.id, t=int(t), x=x.copy(), gradient=g.copy(), hyper=vals, terms=tuple(terms),
        formula=formula, memory=memory, step=x_new - x, x_new=x_new, state_before=before,
        state_after={slot: after[i].copy() for i, slot in enumerate(s.slots)},
    )
