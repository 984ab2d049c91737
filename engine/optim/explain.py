"""Each optimizer's step written out as named quantities, computed in numpy with its kernel's
own arithmetic (same operations, same order), for the step inspector and the lessons."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Term:
    """One quantity of a step: ``key`` is its name in ``Explanation.formula``."""

    key: str
    symbol: str
    meaning: str
    value: np.ndarray  # per coordinate (n,), or a scalar (shape ()) shared by all coordinates

    @property
    def scalar(self) -> bool:
        return np.ndim(self.value) == 0


# Names a formula may use besides its terms.
_FUNCTIONS = {"sqrt": np.sqrt, "sign": np.sign, "maximum": np.maximum, "abs": np.abs}


@dataclass(frozen=True)
class Explanation:
    """Optimizer ``optimizer``'s step ``t`` from ``x`` with gradient ``gradient``.

    ``formula`` is the rule's last line as a numpy expression over the terms' keys, ``x``,
    ``g`` (the gradient), ``d`` (the gradient with any L2 penalty: ``g`` where there is none)
    and the hyperparameters by name (pairs as ``beta1``/``beta2``, ``nu1``/``nu2``); it
    evaluates to ``step``.  ``memory`` is the displacement the optimizer's memory pushes
    toward (-lr times the momentum term the rule reads in place of the gradient, before any
    per-coordinate scaling), or None for memoryless rules.  ``step`` and ``x_new`` are the
    kernel's own.  The race fills ``racer``, ``gradient_seen`` (before clipping; the gradient
    with noise) and ``status``.
    """

    optimizer: str
    t: int
    x: np.ndarray
    gradient: np.ndarray
    hyper: dict
    terms: tuple[Term, ...]
    formula: str
    memory: np.ndarray | None
    step: np.ndarray
    x_new: np.ndarray
    state_before: dict[str, np.ndarray]
    state_after: dict[str, np.ndarray]
    racer: str = ""
    gradient_seen: np.ndarray | None = None
    status: object = None

    @property
    def lr(self) -> float:
        """The learning rate this step used (any schedule applied)."""
        return float(self.hyper["lr"])

    def term(self, key: str) -> Term:
        for term in self.terms:
            if term.key == key:
                return term
        raise KeyError(f"{self.optimizer} has no term {key!r}; terms: {[t.key for t in self.terms]}")

    def namespace(self) -> dict:
        ns = dict(_FUNCTIONS, x=self.x, g=self.gradient, d=self.gradient)
        for name, v in self.hyper.items():
            if isinstance(v, tuple):
                base = name[:-1] if name.endswith("s") else name
                ns[f"{base}1"], ns[f"{base}2"] = v
            else:
                ns[name] = float(v)
        ns.update({term.key: term.value for term in self.terms})
        return ns

    def recombine(self) -> np.ndarray:
        """The step rebuilt from the terms by ``formula``."""
        return np.asarray(eval(self.formula, {"__builtins__": {}}, self.namespace()), dtype=np.float64)


# -- helpers mirroring the kernels' scalar arithmetic ------------------------------------------
def _lerp(a, b, w):
    # torch's lerp, as engine.optim.kernels._lerp: exact at both ends, switches at weight 0.5.
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1.0 - w)


def _penalised(x, g, h, terms, decoupled=False):
    """The gradient with the L2 penalty (coupled weight decay), as the kernels add it."""
    wd = h.get("weight_decay", 0.0)
    if wd != 0.0 and not decoupled:
        d = g + wd * x
        terms.append(Term("d", "g̃ = g + λ·x", "gradient with the L2 penalty (weight decay)", d))
        return d
    return g


def _shrunk(x, h, terms):
    """Decoupled weight decay (AdamW): the weights shrink before the step is added."""
    lr, wd = h["lr"], h.get("weight_decay", 0.0)
    if wd != 0.0 and h.get("decoupled_weight_decay"):
        xd = x * (1 - lr * wd)
        terms.append(Term("x_decayed", "x·(1 − lr·λ)", "weights shrunk by decoupled weight decay", xd))
        return xd, "(x_decayed - x) + "
    return x, ""


def _sign(a):
    return np.where(a > 0, 1.0, np.where(a < 0, -1.0, 0.0))


def _scalar(key, symbol, meaning, value):
    return Term(key, symbol, meaning, np.asarray(float(value)))


# -- one function per family: (x, g, state before by slot, hyper, t, hessian) ----------------
def sgd(x, g, s, h, t, hess):
    terms: list[Term] = []
    d = _penalised(x, g, h, terms)
    mu, damp = h["momentum"], h["dampening"]
    if mu == 0.0:
        return terms, "(-lr) * d", None
    b = d.copy() if t == 1 else s["momentum_buffer"] * mu + (1.0 - damp) * d
    first = " (torch starts it at the first gradient)" if t == 1 else ""
    terms.append(Term("b", "b", "momentum buffer: μ·b + (1 − dampening)·g" + first, b))
    if h["nesterov"]:
        terms.append(Term("look", "g + μ·b", "Nesterov's look-ahead direction", d + mu * b))
        return terms, "(-lr) * look", -h["lr"] * (mu * b)
    return terms, "(-lr) * b", -h["lr"] * b


def adagrad(x, g, s, h, t, hess):
    terms: list[Term] = []
    d = _penalised(x, g, h, terms)
    clr = h["lr"] / (1 + (t - 1) * h["lr_decay"])
    G = s["sum"] + (1.0 * d) * d
    std = np.sqrt(G) + h["eps"]
    terms += [_scalar("clr", "lrₜ", "learning rate after lr_decay: lr / (1 + (t − 1)·lr_decay)", clr),
              Term("G", "G", "sum of all squared gradients so far", G),
              Term("std", "√G + ε", "per-coordinate denominator", std),
              Term("scale", "lrₜ / (√G + ε)", "per-coordinate step size", clr / std)]
    return terms, "(-clr * d) / std", None


def adadelta(x, g, s, h, t, hess):
    terms: list[Term] = []
    d = _penalised(x, g, h, terms)
    rho, eps = h["rho"], h["eps"]
    v = s["square_avg"] * rho + ((1.0 - rho) * d) * d
    std = np.sqrt(v + eps)
    rms_dx = np.sqrt(s["acc_delta"] + eps)
    delta = rms_dx / std * d
    u = s["acc_delta"] * rho + ((1.0 - rho) * delta) * delta
    terms += [Term("v", "E[g²]", "running average of squared gradients", v),
              Term("std", "√(E[g²] + ε)", "RMS of the gradients", std),
              Term("rms_dx", "√(E[Δx²] + ε)", "RMS of past updates (before this step)", rms_dx),
              Term("delta", "Δ = √(E[Δx²] + ε) / √(E[g²] + ε) · g", "the unit-correct update", delta),
              Term("u", "E[Δx²]", "running average of squared updates (after this step)", u)]
    return terms, "(-lr) * delta", None


def rmsprop(x, g, s, h, t, hess):
    terms: list[Term] = []
    d = _penalised(x, g, h, terms)
    alpha, mu = h["alpha"], h["momentum"]
    v = s["square_avg"] * alpha + ((1.0 - alpha) * d) * d
    terms.append(Term("v", "v", "running average of squared gradients", v))
    if h["centered"]:
        gm = _lerp(s["grad_avg"], d, 1.0 - alpha)
        var = v + (-1.0 * gm) * gm
        terms += [Term("gm", "ḡ", "running average of gradients (centered)", gm),
                  Term("var", "v − ḡ²", "variance estimate: the centered second moment", var)]
        avg = np.sqrt(var)
    else:
        avg = np.sqrt(v)
    denom = avg + h["eps"]
    terms.append(Term("denom", "√(v − ḡ²) + ε" if h["centered"] else "√v + ε", "per-coordinate denominator", denom))
    if mu > 0.0:
        b = s["momentum_buffer"] * mu + (1.0 * d) / denom
        terms.append(Term("b", "b", "momentum buffer of scaled steps: μ·b + g / denominator", b))
        return terms, "(-lr) * b", -h["lr"] * b
    terms.append(Term("scale", "lr / denom.", "per-coordinate step size", h["lr"] / denom))
    return terms, "(-lr * d) / denom", None


def _adam_moments(x, g, s, h):
    """What Adam, NAdam and RAdam share: weight decay either way, then torch's m and v."""
    terms: list[Term] = []
    _, decay = _shrunk(x, h, terms)
    d = _penalised(x, g, h, terms, bool(h.get("decoupled_weight_decay")))
    b1, b2 = h["betas"]
    m = _lerp(s["exp_avg"], d, 1.0 - b1)
    v = s["exp_avg_sq"] * b2 + ((1.0 - b2) * d) * d
    terms += [Term("m", "m", "first moment: β1·m + (1 − β1)·g", m),
              Term("v", "v", "second moment: β2·v + (1 − β2)·g²", v)]
    return terms, decay, d, m, v


def adam(x, g, s, h, t, hess):
    terms, decay, d, m, v = _adam_moments(x, g, s, h)
    b1, b2 = h["betas"]
    corrected = bool(h["bias_correction"])
    if corrected:
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        terms += [_scalar("bc1", "1 − β1ᵗ", "bias correction of m", bc1),
                  _scalar("bc2", "1 − β2ᵗ", "bias correction of v", bc2),
                  Term("m_hat", "m̂ = m / (1 − β1ᵗ)", "bias-corrected first moment", m / bc1)]
    if h["amsgrad"]:
        vmax = np.maximum(s["max_exp_avg_sq"], v)
        terms.append(Term("v_max", "v_max = max(v_max, v)", "largest second moment so far (AMSGrad)", vmax))
        used, name = vmax, "v_max"
    else:
        used, name = v, "v"
    if not corrected:
        # Kingma & Ba's algorithm 1 without its two correction lines: m and v themselves,
        # biased towards their zero start in the first steps.
        denom = np.sqrt(used) + h["eps"]
        terms += [Term("denom", f"√{name} + ε", "per-coordinate denominator (no bias correction)", denom),
                  Term("scale", "lr / denom.", "per-coordinate step size applied to m", h["lr"] / denom)]
        return terms, decay + "(-lr * m) / denom", -h["lr"] * m
    terms.append(Term("v_hat", f"v̂ = {name} / (1 − β2ᵗ)", "bias-corrected second moment", used / bc2))
    denom = np.sqrt(used) / bc2**0.5 + h["eps"]
    terms += [Term("denom", f"√{name} / √(1 − β2ᵗ) + ε", "per-coordinate denominator (torch's form)", denom),
              Term("scale", "lr / (1 − β1ᵗ) / denom.", "per-coordinate step size applied to m", h["lr"] / bc1 / denom)]
    return terms, decay + "(-(lr / bc1) * m) / denom", -h["lr"] * (m / bc1)


def adamax(x, g, s, h, t, hess):
    terms: list[Term] = []
    d = _penalised(x, g, h, terms)
    b1, b2 = h["betas"]
    clr = h["lr"] / (1 - b1**t)
    m = _lerp(s["exp_avg"], d, 1.0 - b1)
    u = np.maximum(s["exp_inf"] * b2, np.abs(d) + h["eps"])
    terms += [Term("m", "m", "first moment: β1·m + (1 − β1)·g", m),
              Term("u", "u = max(β2·u, |g| + ε)", "running infinity norm of the gradients", u),
              _scalar("clr", "lr / (1 − β1ᵗ)", "bias-corrected step size", clr)]
    return terms, "(-clr * m) / u", -clr * m


def nadam(x, g, s, h, t, hess):
    terms, decay, d, m, v = _adam_moments(x, g, s, h)
    b1, b2 = h["betas"]
    lr, psi, step = h["lr"], h["momentum_decay"], float(t)
    bc2 = 1 - b2**step
    mu = b1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
    mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
    mu_prod = s["mu_product"][0] * mu
    c_grad = -lr * (1.0 - mu) / (1.0 - mu_prod)
    c_avg = (-lr * mu_next) / (1.0 - mu_prod * mu_next)
    denom = np.sqrt(v / bc2) + h["eps"]
    terms += [_scalar("mu_t", "μₜ = β1·(1 − ½·exp(t·ψ·ln 0.96))", "momentum coefficient of this step", mu),
              _scalar("mu_next", "μₜ₊₁", "next step's coefficient (the look-ahead)", mu_next),
              _scalar("mu_prod", "Π μ", "product of the coefficients so far", mu_prod),
              Term("denom", "√(v / (1 − β2ᵗ)) + ε", "per-coordinate denominator", denom),
              _scalar("c_grad", "−lr·(1 − μₜ) / (1 − Π μ)", "weight of the gradient", c_grad),
              _scalar("c_avg", "−lr·μₜ₊₁ / (1 − Π μ·μₜ₊₁)", "weight of the momentum (look-ahead)", c_avg)]
    return terms, decay + "(c_grad * d) / denom + (c_avg * m) / denom", c_avg * m


def radam(x, g, s, h, t, hess):
    terms, decay, d, m, v = _adam_moments(x, g, s, h)
    b1, b2 = h["betas"]
    step = float(t)
    bc1, bc2 = 1 - b1**step, 1 - b2**step
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * step * (b2**step) / bc2
    m_hat = m / bc1
    rectified = rho_t > 5.0
    terms += [Term("m_hat", "m̂ = m / (1 − β1ᵗ)", "bias-corrected first moment", m_hat),
              _scalar("rho_t", "ρₜ = ρ∞ − 2t·β2ᵗ / (1 − β2ᵗ)",
                      ("variance is tractable (ρₜ > 5): adaptive step" if rectified
                       else "variance not yet tractable (ρₜ ≤ 5): plain momentum step, no denominator"), rho_t)]
    if rectified:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        adaptive = (bc2**0.5) / (np.sqrt(v) + h["eps"])
        terms += [_scalar("rect", "rₜ", "rectification factor", rect),
                  Term("adaptive", "√(1 − β2ᵗ) / (√v + ε)", "adaptive per-coordinate scale", adaptive)]
        return terms, decay + "-(m_hat * lr * adaptive * rect)", -h["lr"] * m_hat
    return terms, decay + "-(m_hat * lr)", -h["lr"] * m_hat


def adabelief(x, g, s, h, t, hess):
    terms: list[Term] = []
    decoupled = bool(h.get("decoupled_weight_decay"))
    _, decay = _shrunk(x, h, terms)
    d = _penalised(x, g, h, terms, decoupled)
    b1, b2 = h["betas"]
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    m = s["exp_avg"] * b1 + (1 - b1) * d
    r = d - m
    sv = s["exp_avg_var"] * b2 + ((1 - b2) * r) * r + h["eps"]
    denom = np.sqrt(sv) / np.sqrt(bc2) + h["eps"]
    terms += [Term("m", "m", "first moment: β1·m + (1 − β1)·g", m),
              Term("r", "g − m", "how far the gradient strays from its prediction", r),
              Term("s", "s", "belief: β2·s + (1 − β2)·(g − m)² + ε", sv),
              _scalar("bc1", "1 − β1ᵗ", "bias correction of m", bc1),
              Term("denom", "√(s / (1 − β2ᵗ)) + ε", "per-coordinate denominator", denom)]
    return terms, decay + "(-(lr / bc1) * m) / denom", -h["lr"] * (m / bc1)


def lion(x, g, s, h, t, hess):
    b1, b2 = h["betas"]
    c = b1 * s["exp_avg"] + (1 - b1) * g
    terms = [Term("c", "c = β1·m + (1 − β1)·g", "interpolated momentum (only its sign is used)", c),
             Term("sign_c", "sign(c)", "every coordinate moves by exactly lr", _sign(c)),
             Term("m", "m", "momentum after the step: β2·m + (1 − β2)·g", b2 * s["exp_avg"] + (1 - b2) * g)]
    return terms, "-(lr * (sign_c + weight_decay * x))", -h["lr"] * c


def yogi(x, g, s, h, t, hess):
    terms: list[Term] = []
    d = _penalised(x, g, h, terms)
    b1, b2 = h["betas"]
    g2 = d * d
    m = b1 * s["exp_avg"] + (1 - b1) * d
    sgn = _sign(s["exp_avg_sq"] - g2)
    v = s["exp_avg_sq"] - (1 - b2) * sgn * g2
    denom = np.sqrt(v) + h["eps"]
    terms += [Term("m", "m", "first moment: β1·m + (1 − β1)·g (no bias correction)", m),
              Term("sign", "sign(v − g²)", "v moves toward g² by a step proportional to g²", sgn),
              Term("v", "v", "second moment: v − (1 − β2)·sign(v − g²)·g²", v),
              Term("denom", "√v + ε", "per-coordinate denominator", denom)]
    return terms, "-(lr * m / denom)", -h["lr"] * m


def qhm(x, g, s, h, t, hess):
    terms: list[Term] = []
    d = _penalised(x, g, h, terms)
    beta, nu = h["momentum"], h["nu"]
    b = beta * s["momentum_buffer"] + (1 - beta) * d
    terms += [Term("b", "b", "normalised momentum: β·b + (1 − β)·g", b),
              Term("mix", "(1 − ν)·g + ν·b", "quasi-hyperbolic mix of gradient and momentum", (1 - nu) * d + nu * b)]
    return terms, "-(lr * mix)", -h["lr"] * (nu * b)


def qhadam(x, g, s, h, t, hess):
    terms: list[Term] = []
    d = _penalised(x, g, h, terms)
    b1, b2 = h["betas"]
    nu1, nu2 = h["nus"]
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    m = b1 * s["exp_avg"] + (1 - b1) * d
    v = b2 * s["exp_avg_sq"] + (1 - b2) * d * d
    num = (1 - nu1) * d + nu1 * (m / bc1)
    den = np.sqrt((1 - nu2) * d * d + nu2 * (v / bc2)) + h["eps"]
    terms += [Term("m", "m", "first moment: β1·m + (1 − β1)·g", m),
              Term("v", "v", "second moment: β2·v + (1 − β2)·g²", v),
              Term("num", "(1 − ν1)·g + ν1·m̂", "numerator: gradient mixed with bias-corrected m", num),
              Term("den", "√((1 − ν2)·g² + ν2·v̂) + ε", "denominator: g² mixed with bias-corrected v", den)]
    return terms, "-(lr * num / den)", -h["lr"] * (nu1 * (m / bc1))


def newton(x, g, s, h, t, hess):
    damping = h["damping"]
    a, b, c, dd = hess[0, 0] + damping, hess[0, 1], hess[1, 0], hess[1, 1] + damping
    det = a * dd - b * c
    p = np.array([(dd * g[0] - b * g[1]) / det, (a * g[1] - c * g[0]) / det])
    terms = [Term("H", "H + damping·I", "the local curvature (row by row)", np.array([a, b, c, dd])),
             _scalar("det", "det(H + damping·I)", "zero: singular, the step is undefined", det),
             Term("p", "p = (H + damping·I)⁻¹ g", "the Newton direction", p)]
    return terms, "-(lr * p)", None
