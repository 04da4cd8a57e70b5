"""Optimizers, as torch.optim has them: SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW,
NAdam, RAdam, Adamax, Rprop, ASGD, Adafactor, Muon and LBFGS; and Lion (as
lion-pytorch 0.2.5) and schedule-free SGD and AdamW (as schedulefree 1.4.1).

The names, keyword arguments, defaults and update equations are the
reference's (checked step by step against recorded runs of torch 2.13,
lion-pytorch and schedulefree in ``tests/test_optim_torch.py``), so a learner
who moves on to PyTorch meets the same words and the same numbers.

Two layers, as in PyTorch:

* a **pure update function** per method::

      state = AdamState.zeros_like(param)
      new_param, new_state = adam_update(param, grad, state, lr=1e-3)

  It reads like the equations, one line per line, and changes none of its
  inputs. The state is a small ``NamedTuple`` whose fields carry PyTorch's
  names (``step``, ``exp_avg``, ``exp_avg_sq``, ...); ``step`` counts the
  updates made so far.

* a **thin class** that checks its hyperparameters once, keeps one state
  record per parameter and calls the update function::

      opt = Adam(lr=0.01)
      params = opt.step(params, grads)   # ndarray, or dict name -> ndarray
      opt.lr = 0.005                     # between steps (schedules do this)
      opt.state                          # the state record(s), for plotting m and v

  ``step`` returns new arrays and never writes into the arrays it is given.

Notation used in the docstrings: θ the parameter, g its gradient, η the
learning rate ``lr``, λ ``weight_decay``, ε ``eps``, t the step number.
"""

from collections.abc import Mapping
from math import isfinite, sqrt
from typing import NamedTuple, Optional

import numpy as np

from . import argcheck

__all__ = [
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax",
    "Rprop", "ASGD", "Adafactor", "Muon", "LBFGS", "Lion", "ScheduleFreeSGD", "ScheduleFreeAdamW",
    "sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update", "adamw_update",
    "nadam_update", "radam_update", "adamax_update",
    "rprop_update", "asgd_update", "adafactor_update", "muon_update", "lbfgs_update", "lion_update",
    "schedule_free_sgd_update", "schedule_free_adamw_update", "schedule_free_eval_point",
    "newton_schulz", "muon_lr", "lbfgs_direction", "strong_wolfe",
    "SGDState", "AdagradState", "RMSpropState", "AdadeltaState", "AdamState",
    "NAdamState", "RAdamState", "AdamaxState",
    "RpropState", "ASGDState", "AdafactorState", "MuonState", "LBFGSState", "LionState",
    "ScheduleFreeSGDState", "ScheduleFreeAdamWState",
    "Optimizer", "ShapeMismatch",
]


def _as_float_array(x):
    """`x` as an ndarray of floats: a float array as it is (no copy), anything else
    (a list, an int, an int array) converted to float64."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x
    return np.asarray(x, dtype=np.float64)


class ShapeMismatch(ValueError):
    """A gradient whose shape differs from its parameter's (a ValueError naming both shapes)."""

    def __init__(self, grad_shape, param_shape, label="param"):
        super().__init__(f"the gradient of {label} has shape {grad_shape} but {label} has shape "
                         f"{param_shape}; they must be the same")
        self.grad_shape, self.param_shape = grad_shape, param_shape


def _param_and_grad(param, grad):
    """The first line of every update: `param` and `grad` as float arrays (no copy when
    they already are), of one shape (ShapeMismatch otherwise)."""
    param, grad = _as_float_array(param), _as_float_array(grad)
    if grad.shape != param.shape:
        raise ShapeMismatch(grad.shape, param.shape)
    return param, grad


def _regularized(param, grad, *, weight_decay, maximize, lr=0.0, decoupled=False):
    """The gradient's sign and the weight decay, the opening lines of most updates: (θ, g).

        g = ∇f(θ)                   (−∇f(θ) if maximize)
        g = g + λ θ                 L2, the default: the decay passes through the method
        θ = θ (1 − η λ)             instead, if decoupled (AdamW's decay): g is left alone
    """
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            param = param * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * param
    return param, g


# --------------------------------------------------------------------------
# State records: NamedTuples with PyTorch's field names
# --------------------------------------------------------------------------

def _zero_buffers(record, param, **start):
    """`record` (a state NamedTuple) before the first step, for every record alike.

    The first field (`step`, the count) is 0; every other field takes its value from `start`, else from the
    record's own `START` (a dict field -> value), else zeros shaped like `param`.
    A number fills a buffer shaped like `param` (`AdagradState.zeros_like(p, sum=0.1)`),
    None stays None, and a callable is called with `param` (for buffers of another
    shape). Each buffer is its own new array."""
    param = _as_float_array(param)
    start = {**getattr(record, "START", {}), **start}
    values = {}
    for field in record._fields[1:]:
        value = start.get(field, 0.0)
        if callable(value):
            value = value(param)
        elif value is not None and record.__annotations__[field] is np.ndarray:
            value = np.full_like(param, value)
        values[field] = value
    return record(0, **values)


class SGDState(NamedTuple):
    """State of SGD for one parameter: `step` updates made, and the momentum
    buffer b (None until the first step with momentum, as in PyTorch)."""
    step: int
    momentum_buffer: Optional[np.ndarray]

    START = {"momentum_buffer": None}
    zeros_like = classmethod(_zero_buffers)


class AdagradState(NamedTuple):
    """State of Adagrad for one parameter: `step` updates made, and `sum`, the
    running sum of squared gradients."""
    step: int
    sum: np.ndarray

    zeros_like = classmethod(_zero_buffers)


class RMSpropState(NamedTuple):
    """State of RMSprop for one parameter: `step` updates made, `square_avg` (v, the
    moving average of g²), `momentum_buffer` (b, used when momentum > 0) and
    `grad_avg` (the moving average of g, used when centered)."""
    step: int
    square_avg: np.ndarray
    momentum_buffer: np.ndarray
    grad_avg: np.ndarray

    zeros_like = classmethod(_zero_buffers)


class AdadeltaState(NamedTuple):
    """State of Adadelta for one parameter: `step` updates made, `square_avg` (v, the
    moving average of g²) and `acc_delta` (u, the moving average of Δθ²)."""
    step: int
    square_avg: np.ndarray
    acc_delta: np.ndarray

    zeros_like = classmethod(_zero_buffers)


class AdamState(NamedTuple):
    """State of Adam and AdamW for one parameter: `step` updates made, `exp_avg`
    (m, the first moment), `exp_avg_sq` (v, the second moment) and
    `max_exp_avg_sq` (the running maximum of v, used when amsgrad; stays zero otherwise)."""
    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray

    zeros_like = classmethod(_zero_buffers)


class NAdamState(NamedTuple):
    """State of NAdam for one parameter: `step` updates made, `mu_product` (the
    product μ₁ μ₂ ⋯ μ_t of the momentum coefficients so far, 1.0 before the
    first step), `exp_avg` (m) and `exp_avg_sq` (v)."""
    step: int
    mu_product: float
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray

    START = {"mu_product": 1.0}
    zeros_like = classmethod(_zero_buffers)


class RAdamState(NamedTuple):
    """State of RAdam for one parameter: `step` updates made, `exp_avg` (m) and `exp_avg_sq` (v)."""
    step: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray

    zeros_like = classmethod(_zero_buffers)


class AdamaxState(NamedTuple):
    """State of Adamax for one parameter: `step` updates made, `exp_avg` (m) and
    `exp_inf` (u, the exponentially weighted infinity norm of the gradients)."""
    step: int
    exp_avg: np.ndarray
    exp_inf: np.ndarray

    zeros_like = classmethod(_zero_buffers)


# --------------------------------------------------------------------------
# Pure update functions
# --------------------------------------------------------------------------

def sgd_update(param, grad, state, *, lr=1e-3, momentum=0.0, dampening=0.0,
               nesterov=False, weight_decay=0.0, maximize=False):
    """One step of stochastic gradient descent (torch.optim.SGD), as a pure function.

    Symbols: η = `lr`, μ = `momentum`, τ = `dampening`, λ = `weight_decay`;
    b is `state.momentum_buffer`.

        for t = 1, 2, …
            g = ∇f(θ) + λ θ                      (−∇f(θ) + λ θ if maximize)
            if μ ≠ 0:
                b = g                  if t = 1
                b = μ b + (1 − τ) g    otherwise
                g = g + μ b            if nesterov, else   g = b
            θ = θ − η g

    PyTorch's conventions, which differ from some textbooks and libraries:

    * the first momentum buffer is the gradient itself, b₁ = g₁: dampening is
      not applied on the first step;
    * the learning rate multiplies the whole buffer (θ −= η b), rather than
      entering the buffer (v = μ v − η g, θ += v as in Sutskever et al.); the two
      agree while η is constant and differ once η changes;
    * Nesterov is the "look-ahead" form g + μ b evaluated at the current θ;
    * weight decay is L2 regularisation folded into the gradient.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize)
    b = state.momentum_buffer
    if momentum != 0:
        if b is None:
            b = g.copy()                             # b₁ = g₁ (a copy: the state never aliases the caller's grad)
        elif dampening == 0:                         # τ = 0, the default: (1 − τ) g is g, a pass saved
            b = momentum * b + g
        else:
            b = momentum * b + (1 - dampening) * g
        if nesterov:
            g = g + momentum * b
        else:
            g = b
    new_param = param - lr * g
    return new_param, SGDState(step=state.step + 1, momentum_buffer=b)


def adagrad_update(param, grad, state, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                   eps=1e-10, maximize=False):
    """One step of Adagrad (torch.optim.Adagrad), as a pure function.

    Symbols: η = `lr`, γ = `lr_decay`, λ = `weight_decay`, ε = `eps`;
    s is `state.sum` (start it at `initial_accumulator_value` with
    ``AdagradState.zeros_like(param, sum=initial_accumulator_value)``).

        for t = 1, 2, …
            g = ∇f(θ) + λ θ                      (−∇f(θ) + λ θ if maximize)
            η_t = η / (1 + (t − 1) γ)
            s = s + g²
            θ = θ − η_t g / (√s + ε)

    PyTorch's conventions: ε is added after the square root; the learning-rate
    decay γ is PyTorch's own addition (Duchi et al. have none); s may start at a
    positive value (`initial_accumulator_value`, TensorFlow uses 0.1); weight
    decay is L2 folded into the gradient.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    t = state.step + 1
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize)
    lr_t = lr / (1 + (t - 1) * lr_decay)
    s = state.sum + g * g
    new_param = param - lr_t * g / (np.sqrt(s) + eps)
    return new_param, AdagradState(step=t, sum=s)


def rmsprop_update(param, grad, state, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                   momentum=0.0, centered=False, maximize=False):
    """One step of RMSprop (torch.optim.RMSprop), as a pure function.

    Symbols: η = `lr`, α = `alpha`, ε = `eps`, λ = `weight_decay`, μ = `momentum`;
    v is `state.square_avg`, ḡ `state.grad_avg`, b `state.momentum_buffer`.

        for t = 1, 2, …
            g = ∇f(θ) + λ θ                      (−∇f(θ) + λ θ if maximize)
            v = α v + (1 − α) g²
            if centered:
                ḡ = α ḡ + (1 − α) g
                d = √(v − ḡ²) + ε
            else:
                d = √v + ε
            if μ > 0:
                b = μ b + g / d
                θ = θ − η b
            else:
                θ = θ − η g / d

    PyTorch's conventions: ε is added after the square root (TensorFlow and Keras
    put it inside, √(v + ε)); v starts at 0 with no bias correction, so the first
    steps are about η / √(1 − α) = 10 η long for α = 0.99; momentum accumulates
    the scaled step g / d; weight decay is L2 folded into the gradient.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize)
    v = alpha * state.square_avg + (1 - alpha) * g * g
    g_avg = state.grad_avg
    if centered:
        g_avg = alpha * g_avg + (1 - alpha) * g
        d = np.sqrt(v - g_avg * g_avg) + eps
    else:
        d = np.sqrt(v) + eps
    b = state.momentum_buffer
    if momentum > 0:
        b = momentum * b + g / d
        new_param = param - lr * b
    else:
        new_param = param - lr * g / d
    return new_param, RMSpropState(step=state.step + 1, square_avg=v, momentum_buffer=b, grad_avg=g_avg)


def adadelta_update(param, grad, state, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0,
                    maximize=False):
    """One step of Adadelta (torch.optim.Adadelta), as a pure function.

    Symbols: η = `lr`, ρ = `rho`, ε = `eps`, λ = `weight_decay`;
    v is `state.square_avg`, u `state.acc_delta`.

        for t = 1, 2, …
            g = ∇f(θ) + λ θ                      (−∇f(θ) + λ θ if maximize)
            v = ρ v + (1 − ρ) g²
            Δθ = √(u + ε) / √(v + ε) · g
            u = ρ u + (1 − ρ) Δθ²
            θ = θ − η Δθ

    Conventions: here ε sits *inside* the square roots, as in Zeiler's paper
    (unlike Adam and RMSprop, where it is added after). Zeiler's method has no
    learning rate; PyTorch multiplies the step by η, whose default 1.0 gives
    the paper's update. Weight decay is L2 folded into the gradient.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize)
    v = rho * state.square_avg + (1 - rho) * g * g
    delta = np.sqrt(state.acc_delta + eps) / np.sqrt(v + eps) * g
    u = rho * state.acc_delta + (1 - rho) * delta * delta
    new_param = param - lr * delta
    return new_param, AdadeltaState(step=state.step + 1, square_avg=v, acc_delta=u)


def adam_update(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                amsgrad=False, maximize=False):
    """One step of Adam (torch.optim.Adam), as a pure function.

    Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`;
    m is `state.exp_avg`, v `state.exp_avg_sq`, v_max `state.max_exp_avg_sq`.

        for t = 1, 2, …
            g = ∇f(θ) + λ θ                      (−∇f(θ) + λ θ if maximize)
            m = β₁ m + (1 − β₁) g
            v = β₂ v + (1 − β₂) g²
            if amsgrad:
                v_max = max(v_max, v);   v̂ = v_max / (1 − β₂ᵗ)
            else:
                v̂ = v / (1 − β₂ᵗ)
            m̂ = m / (1 − β₁ᵗ)
            θ = θ − η m̂ / (√v̂ + ε)

    PyTorch's conventions, which differ from the paper or other libraries:

    * ε is added after the square root of the *bias-corrected* v̂ (Kingma & Ba's
      Algorithm 1 does the same; their "efficient version", and TensorFlow's
      default, add ε̂ to √v before correcting it, which changes the numbers);
    * AMSGrad takes the maximum of the *uncorrected* v and then bias-corrects it
      (Reddi et al. take the maximum of v with no correction at all);
    * `weight_decay` is L2 regularisation folded into the gradient, so it passes
      through m and v and is scaled by 1/√v̂; for decay decoupled from the
      gradient use `adamw_update` / `AdamW`.

    The code folds m̂'s correction into the step size, η m̂ = (η / (1 − β₁ᵗ)) m, as
    torch's `_single_tensor_adam` does (`step_size = lr / bias_correction1`): the
    same number as writing m̂ on its own line up to the last bit, and the rounding
    the course's recorded runs and printed figures were made with.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize)
    m = beta1 * state.exp_avg + (1 - beta1) * g
    v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
    v_max = state.max_exp_avg_sq
    if amsgrad:
        v_max = np.maximum(v_max, v)
        v_hat = v_max / (1 - beta2 ** t)
    else:
        v_hat = v / (1 - beta2 ** t)
    step_size = lr / (1 - beta1 ** t)                # η m̂ = (η / (1 − β₁ᵗ)) m, folded as torch does
    new_param = param - step_size * m / (np.sqrt(v_hat) + eps)
    return new_param, AdamState(step=t, exp_avg=m, exp_avg_sq=v, max_exp_avg_sq=v_max)


def adamw_update(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
    """One step of AdamW (torch.optim.AdamW), as a pure function: Adam with
    decoupled weight decay.

    Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`
    (default 0.01, not 0); m, v, v_max as in `adam_update`.

        for t = 1, 2, …
            θ = θ (1 − η λ)                      decoupled weight decay, first
            then the Adam step of `adam_update` with g = ∇f(θ) (no L2 term)

    The decay shrinks θ directly instead of being added to the gradient, so it
    is not rescaled by 1/√v̂ (Loshchilov & Hutter). PyTorch multiplies λ by the
    learning rate η; the paper multiplies it by the schedule factor η_t only,
    not by the Adam step size α, so the paper's λ corresponds to λ/α here.
    Applying the decay before or after the Adam step gives the same θ (the
    Adam step does not read θ), which is why optax's adamw agrees with this.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    decayed, _ = _regularized(param, grad, weight_decay=weight_decay, maximize=False, lr=lr, decoupled=True)
    return adam_update(decayed, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0,
                       amsgrad=amsgrad, maximize=maximize)


def nadam_update(param, grad, state, *, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    """One step of NAdam (torch.optim.NAdam), as a pure function: Adam with Nesterov momentum.

    Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`,
    ψ = `momentum_decay`; m is `state.exp_avg`, v `state.exp_avg_sq`, and
    Π_t = μ₁ ⋯ μ_t is `state.mu_product`.

        for t = 1, 2, …
            g = ∇f(θ) + λ θ                      (θ = θ (1 − η λ) instead, if decoupled_weight_decay)
            μ_t = β₁ (1 − ½ · 0.96^(t ψ))        the momentum coefficient of step t
            μ_{t+1} = β₁ (1 − ½ · 0.96^((t+1) ψ))
            Π_t = Π_{t−1} μ_t
            m = β₁ m + (1 − β₁) g
            v = β₂ v + (1 − β₂) g²
            v̂ = v / (1 − β₂ᵗ)
            θ = θ − η (1 − μ_t) / (1 − Π_t) · g / (√v̂ + ε)
                  − η μ_{t+1} / (1 − Π_t μ_{t+1}) · m / (√v̂ + ε)

    The step mixes the current gradient and the momentum m "looked ahead" one
    step, each with its own bias correction (Dozat 2016). PyTorch's
    conventions: m is averaged with the constant β₁ (Dozat averages it with
    μ_t), while the warming-up μ_t (Dozat's schedule, with ψ = 0.004) only
    weighs the two terms; ε is added
    after the square root of the bias-corrected v̂; `weight_decay` is L2 folded
    into the gradient unless `decoupled_weight_decay` (then it is AdamW's decay,
    NAdamW). Maximize negates the gradient first.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize, lr=lr,
                            decoupled=decoupled_weight_decay)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = state.mu_product * mu
    m = beta1 * state.exp_avg + (1 - beta1) * g
    v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
    denom = np.sqrt(v / (1 - beta2 ** t)) + eps
    new_param = (param
                 - lr * (1 - mu) / (1 - mu_product) * g / denom
                 - lr * mu_next / (1 - mu_product * mu_next) * m / denom)
    return new_param, NAdamState(step=t, mu_product=mu_product, exp_avg=m, exp_avg_sq=v)


def radam_update(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, maximize=False):
    """One step of RAdam (torch.optim.RAdam), as a pure function: Adam whose
    adaptive step is switched on only once the variance of its adaptive factor 1/√v̂ is tractable.

    Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`;
    m is `state.exp_avg`, v `state.exp_avg_sq`.

        ρ_∞ = 2 / (1 − β₂) − 1                   the longest "length" of the moving average
        for t = 1, 2, …
            g = ∇f(θ) + λ θ                      (θ = θ (1 − η λ) instead, if decoupled_weight_decay)
            m = β₁ m + (1 − β₁) g
            v = β₂ v + (1 − β₂) g²
            m̂ = m / (1 − β₁ᵗ)
            ρ_t = ρ_∞ − 2 t β₂ᵗ / (1 − β₂ᵗ)
            if ρ_t > 5:                           the variance of the adaptive step is tractable
                r_t = √( (ρ_t − 4)(ρ_t − 2) ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2) ρ_t) )
                θ = θ − η m̂ r_t √(1 − β₂ᵗ) / (√v + ε)
            else:                                 the first few steps: SGD with momentum
                θ = θ − η m̂

    With the default β₂ = 0.999 the first 5 steps (ρ_t ≤ 5) take the plain
    momentum step η m̂ and the rectified Adam step starts at t = 6 — a
    built-in warm-up (Liu et al. 2020). PyTorch's conventions: the threshold is
    ρ_t > 5 (the paper's Algorithm 2 says ρ_t > 4, the authors' code ρ_t ≥ 5); ε is
    added to √v *before* the bias correction √(1 − β₂ᵗ) multiplies the step
    (Adam adds it to √v̂); `weight_decay` is L2 folded into the gradient unless
    `decoupled_weight_decay` (then it is AdamW's decay).

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize, lr=lr,
                            decoupled=decoupled_weight_decay)
    m = beta1 * state.exp_avg + (1 - beta1) * g
    v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** t
    bias_correction2 = 1 - beta2 ** t
    m_hat = m / bias_correction1
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / bias_correction2
    if rho_t > 5.0:
        rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        adaptive_lr = sqrt(bias_correction2) / (np.sqrt(v) + eps)
        new_param = param - m_hat * lr * adaptive_lr * rect
    else:
        new_param = param - m_hat * lr
    return new_param, RAdamState(step=t, exp_avg=m, exp_avg_sq=v)


def adamax_update(param, grad, state, *, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  maximize=False):
    """One step of Adamax (torch.optim.Adamax), as a pure function: Adam with the
    infinity norm in place of the root mean square.

    Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`;
    m is `state.exp_avg`, u `state.exp_inf`.

        for t = 1, 2, …
            g = ∇f(θ) + λ θ                      (−∇f(θ) + λ θ if maximize)
            m = β₁ m + (1 − β₁) g
            u = max(β₂ u, |g| + ε)
            θ = θ − η / (1 − β₁ᵗ) · m / u

    PyTorch's convention: ε is added to |g| *inside* the maximum, so u ≥ ε and
    the division is safe where g = 0. Like Kingma & Ba's u, it needs no bias
    correction: a maximum, unlike an average started at 0, is not pulled
    towards 0. Kingma & Ba's Algorithm 2 has
    u = max(β₂ u, |g|) and divides by u itself. Weight decay is L2 folded into
    the gradient.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize)
    m = beta1 * state.exp_avg + (1 - beta1) * g
    u = np.maximum(beta2 * state.exp_inf, np.abs(g) + eps)
    new_param = param - lr / (1 - beta1 ** t) * m / u
    return new_param, AdamaxState(step=t, exp_avg=m, exp_inf=u)


# --------------------------------------------------------------------------
# Checks of hyperparameters
# --------------------------------------------------------------------------

def _hyper(name, value, low, high=None, **ends):
    """``argcheck.number``; but, as in torch.optim, a value that is not a number at all is a TypeError."""
    if not argcheck.is_number(value):
        raise TypeError(f"{name} must be {argcheck.number_rule(low, high, **ends)}, got {value!r}")
    return argcheck.number(value, name, low, high, **ends)


def _at_least_zero(name, value):
    return _hyper(name, value, 0)


def _positive(name, value):
    return _hyper(name, value, 0, low_open=True)


def _in_unit_interval(name, value, *, include_one):
    return _hyper(name, value, 0, 1, high_open=not include_one)


def _check_betas(betas):
    if not (isinstance(betas, (tuple, list, np.ndarray)) and len(betas) == 2):
        raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1), got {betas!r}")
    return (_in_unit_interval("betas[0]", betas[0], include_one=False),
            _in_unit_interval("betas[1]", betas[1], include_one=False))


# --------------------------------------------------------------------------
# The classes: one generic wrapper, one thin subclass per method
# --------------------------------------------------------------------------

class Optimizer:
    """What every optimizer class shares: keeps the hyperparameters and one state
    record per parameter, and calls the method's pure update function in `step`.

    A subclass sets `update` (its pure function) and `State` (its state record),
    checks its hyperparameters in `__init__` and passes them on here, named as the
    keyword arguments of `update`.

    Attributes:
        defaults: the hyperparameters given at construction (PyTorch's `defaults`).
        lr: the learning rate; may be changed between steps (checked when set).
        state: None before the first step; then the state record (ndarray params)
            or a dict name -> state record (dict params).
    """

    update = None     # the pure update function, e.g. adam_update
    State = None      # the state record, e.g. AdamState
    takes_closure = False   # True for LBFGS: step(params, closure) instead of step(params, grads)

    def __init_subclass__(cls, **kwargs):
        # `Adam?` in Jupyter shows the equations: append the update function's docstring.
        super().__init_subclass__(**kwargs)
        if cls.update is not None and cls.__doc__ and cls.update.__doc__:
            cls.__doc__ = (f"{cls.__doc__.rstrip()}\n\n    The update, `{cls.update.__name__}`: "
                           f"{cls.update.__doc__}")

    def __init__(self, **hyperparameters):
        self._hyperparameters = hyperparameters
        self.defaults = dict(hyperparameters)
        self.state = None

    @property
    def lr(self):
        """The learning rate used by the next step."""
        return self._hyperparameters["lr"]

    @lr.setter
    def lr(self, value):
        self._hyperparameters["lr"] = _at_least_zero("lr", value)

    def __repr__(self):
        current = {**self.defaults, **self._hyperparameters}
        args = ", ".join(f"{name}={value!r}" for name, value in current.items())
        return f"{type(self).__name__}({args})"

    def _update_arguments(self):
        """The keyword arguments `update` is called with: the hyperparameters."""
        return self._hyperparameters

    def initial_state(self, param):
        """The state record of `param` before its first step (`State.zeros_like`, with
        the starting values `state_start` gives)."""
        return self.State.zeros_like(param, **self.state_start())

    def state_start(self):
        """{state field: its value before the first step} where that is not zero
        (Adagrad's `initial_accumulator_value`, Rprop's first step size η, ...)."""
        return {}

    def step(self, params, grads):
        """One update: returns the new parameters, the same kind as `params`
        (an ndarray, or a dict name -> ndarray with the same keys).

        Neither `params` nor `grads` is written into. Raises ValueError when the
        grads' shapes or keys differ from the params', FloatingPointError when a
        gradient holds a NaN or an infinity.
        """
        if isinstance(params, Mapping):
            if not isinstance(grads, Mapping):
                raise ValueError(f"params is a dict (keys {list(params)}) but grads is a "
                                 f"{type(grads).__name__}; pass grads as a dict with the same keys")
            if self.state is not None and not isinstance(self.state, dict):
                raise ValueError("this optimizer has been stepping a single array; "
                                 "make a new optimizer for a dict of parameters")
            missing = [k for k in params if k not in grads]
            extra = [k for k in grads if k not in params]
            if missing or extra:
                raise ValueError(f"grads keys differ from params keys {list(params)}: "
                                 f"missing from grads {missing}, extra in grads {extra}")
            old_state = self.state or {}
            new_params, new_state = {}, dict(old_state)
            for name in params:
                new_params[name], new_state[name] = self._step_one(
                    params[name], grads[name], old_state.get(name), f"params[{name!r}]")
            self.state = new_state                   # only once every parameter succeeded
            return new_params
        if isinstance(grads, Mapping):
            raise ValueError(f"params is an array but grads is a dict (keys {list(grads)}); "
                             "pass both as arrays or both as dicts")
        if isinstance(self.state, dict):
            raise ValueError("this optimizer has been stepping a dict of parameters; "
                             "make a new optimizer for a single array")
        new_param, self.state = self._step_one(params, grads, self.state, "params")
        return new_param

    def _step_one(self, param, grad, state, label):
        steps_done = 0 if state is None else state.step
        # A NaN or an infinity makes ‖g‖² = g·g non-finite: one pass, no temporary array
        # (a dot product is the cheapest reduction numpy has). ‖g‖² also overflows when
        # an entry passes about 1e154: then look closer.
        g = np.asarray(grad)
        if not isfinite(np.vdot(g, g)) and not np.isfinite(g).all():
            self._raise_not_finite(g, label, steps_done)
        if state is None:
            state = self.initial_state(param)
        else:
            self._check_state_fits(param, state, label)
        try:
            return type(self).update(param, grad, state, **self._update_arguments())
        except ShapeMismatch as error:           # the update's own check, told which parameter
            raise ShapeMismatch(error.grad_shape, error.param_shape, label) from None

    def _check_state_fits(self, param, state, label):
        """ValueError if `param` changed shape since its state was made."""
        fresh = self.initial_state(param)
        for field, value, expected in zip(state._fields, state, fresh):
            expected_shape = np.shape(param) if expected is None else np.shape(expected)   # (SGD's b₁ is None)
            if isinstance(value, np.ndarray) and value.shape != expected_shape:
                raise ValueError(f"{label} has shape {np.shape(param)} but its optimizer state "
                                 f"({field}) has shape {value.shape}: the parameter changed shape; "
                                 "make a new optimizer")

    def _raise_not_finite(self, grad, label, steps_done):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(grad))[0])
        where = f" at index {index}" if index else ""
        raise FloatingPointError(
            f"the gradient of {label} is {grad[index]}{where} at step {steps_done + 1}: "
            "the optimization has probably diverged. Try a smaller learning rate "
            f"(lr is {self.lr}) or a start point closer to the minimum, or check the "
            "gradient function. The parameters were not updated.")


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, Nesterov momentum
    and weight decay: torch.optim.SGD without its `params` argument.

    Args:
        lr: learning rate η, >= 0 (PyTorch's default, 1e-3).
        momentum: μ, >= 0 (0: plain gradient descent).
        dampening: τ in [0, 1]: the buffer takes (1 − τ) of each new gradient.
        weight_decay: λ >= 0, L2 penalty added to the gradient.
        nesterov: Nesterov momentum; requires momentum > 0 and dampening 0.
        maximize: ascend instead of descend.
    """

    update = staticmethod(sgd_update)
    State = SGDState

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False):
        lr = _at_least_zero("lr", lr)
        momentum = _at_least_zero("momentum", momentum)
        dampening = _in_unit_interval("dampening", dampening, include_one=True)
        weight_decay = _at_least_zero("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=bool(nesterov), maximize=bool(maximize))


class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps scaled by the root of the sum of all past
    squared gradients: torch.optim.Adagrad without its `params` argument.

    Args:
        lr: learning rate η, >= 0.
        lr_decay: γ >= 0; the step t uses η / (1 + (t − 1) γ).
        weight_decay: λ >= 0, L2 penalty added to the gradient.
        initial_accumulator_value: >= 0, the starting value of the sum of squares.
        eps: ε > 0, added to the square root for numerical stability.
        maximize: ascend instead of descend.
    """

    update = staticmethod(adagrad_update)
    State = AdagradState

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False):
        super().__init__(lr=_at_least_zero("lr", lr),
                         lr_decay=_at_least_zero("lr_decay", lr_decay),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
                         eps=_positive("eps", eps),
                         maximize=bool(maximize))
        # Not a hyperparameter of the update: it only sets the initial state.
        self.initial_accumulator_value = _at_least_zero("initial_accumulator_value",
                                                        initial_accumulator_value)
        self.defaults["initial_accumulator_value"] = self.initial_accumulator_value

    def state_start(self):
        return {"sum": self.initial_accumulator_value}


class RMSprop(Optimizer):
    """RMSprop: steps scaled by the root of a moving average of squared
    gradients: torch.optim.RMSprop without its `params` argument.

    Args:
        lr: learning rate η, >= 0.
        alpha: α in [0, 1), the decay of the moving average of g².
        eps: ε > 0, added to the square root.
        weight_decay: λ >= 0, L2 penalty added to the gradient.
        momentum: μ >= 0, momentum on the scaled step.
        centered: divide by an estimate of the standard deviation of g
            (v − ḡ²) instead of the root mean square.
        maximize: ascend instead of descend.
    """

    update = staticmethod(rmsprop_update)
    State = RMSpropState

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        super().__init__(lr=_at_least_zero("lr", lr),
                         alpha=_in_unit_interval("alpha", alpha, include_one=False),
                         eps=_positive("eps", eps),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
                         momentum=_at_least_zero("momentum", momentum),
                         centered=bool(centered),
                         maximize=bool(maximize))


class Adadelta(Optimizer):
    """Adadelta: steps whose units match the parameter's, from moving averages of
    squared gradients and squared steps: torch.optim.Adadelta without `params`.

    Args:
        lr: η >= 0, a factor on the step (1.0: Zeiler's method as published).
        rho: ρ in [0, 1], the decay of both moving averages.
        eps: ε > 0, added inside the square roots.
        weight_decay: λ >= 0, L2 penalty added to the gradient.
        maximize: ascend instead of descend.
    """

    update = staticmethod(adadelta_update)
    State = AdadeltaState

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        super().__init__(lr=_at_least_zero("lr", lr),
                         rho=_in_unit_interval("rho", rho, include_one=True),
                         eps=_positive("eps", eps),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
                         maximize=bool(maximize))


def _adam_hyperparameters(lr, betas, eps, weight_decay) -> dict:
    """lr >= 0, betas in [0, 1), eps > 0, weight_decay >= 0, checked: what every Adam-family class takes."""
    return dict(lr=_at_least_zero("lr", lr), betas=_check_betas(betas), eps=_positive("eps", eps),
                weight_decay=_at_least_zero("weight_decay", weight_decay))


class Adam(Optimizer):
    """Adam: momentum on the gradient divided by the root of a moving average of
    its square, both bias-corrected: torch.optim.Adam without its `params` argument.

    Args:
        lr: learning rate η, >= 0.
        betas: (β₁, β₂), each in [0, 1): decays of the first and second moments.
        eps: ε > 0, added to the square root.
        weight_decay: λ >= 0, L2 penalty added to the gradient (see AdamW for
            decoupled decay).
        amsgrad: use the running maximum of the second moment (AMSGrad).
        maximize: ascend instead of descend.
    """

    update = staticmethod(adam_update)
    State = AdamState

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False):
        super().__init__(**_adam_hyperparameters(lr, betas, eps, weight_decay),
                         amsgrad=bool(amsgrad),
                         maximize=bool(maximize))


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (θ shrinks by a factor 1 − ηλ each
    step, outside the gradient): torch.optim.AdamW without its `params` argument.

    Args: as Adam's, but weight_decay λ defaults to 0.01.
    """

    update = staticmethod(adamw_update)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)



class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and Dozat's momentum warm-up:
    torch.optim.NAdam without its `params` argument.

    Args:
        lr: learning rate η, >= 0 (default 2e-3, as PyTorch's).
        betas: (β₁, β₂), each in [0, 1).
        eps: ε > 0, added to the square root.
        weight_decay: λ >= 0 (L2 in the gradient, or decoupled, below).
        momentum_decay: ψ >= 0; μ_t rises from about β₁/2 towards β₁, slowly (with
            0.004, as Dozat: μ_t ≈ 0.45–0.46 for the first hundred steps, ¾β₁ after about
            4,250; ψ = 0 keeps it at β₁/2).
        decoupled_weight_decay: shrink θ by 1 − ηλ (AdamW's decay) instead of L2.
        maximize: ascend instead of descend.
    """

    update = staticmethod(nadam_update)
    State = NAdamState

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(**_adam_hyperparameters(lr, betas, eps, weight_decay),
                         momentum_decay=_at_least_zero("momentum_decay", momentum_decay),
                         decoupled_weight_decay=bool(decoupled_weight_decay),
                         maximize=bool(maximize))


class RAdam(Optimizer):
    """RAdam: Adam with the variance of its adaptive step rectified, plain
    momentum steps until that variance is tractable: torch.optim.RAdam without
    its `params` argument.

    Args:
        lr: learning rate η, >= 0.
        betas: (β₁, β₂), each in [0, 1).
        eps: ε > 0, added to √v.
        weight_decay: λ >= 0 (L2 in the gradient, or decoupled, below).
        decoupled_weight_decay: shrink θ by 1 − ηλ (AdamW's decay) instead of L2.
        maximize: ascend instead of descend.
    """

    update = staticmethod(radam_update)
    State = RAdamState

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(**_adam_hyperparameters(lr, betas, eps, weight_decay),
                         decoupled_weight_decay=bool(decoupled_weight_decay),
                         maximize=bool(maximize))


class Adamax(Optimizer):
    """Adamax: Adam with an exponentially weighted infinity norm of the
    gradients in place of the root mean square: torch.optim.Adamax without its
    `params` argument.

    Args:
        lr: learning rate η, >= 0 (default 2e-3, as PyTorch's).
        betas: (β₁, β₂), each in [0, 1).
        eps: ε > 0, added to |g| inside the maximum.
        weight_decay: λ >= 0, L2 penalty added to the gradient.
        maximize: ascend instead of descend.
    """

    update = staticmethod(adamax_update)
    State = AdamaxState

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False):
        super().__init__(**_adam_hyperparameters(lr, betas, eps, weight_decay),
                         maximize=bool(maximize))


# ==========================================================================
# Beyond 2020: sign methods, averaging, factored and orthogonalized updates,
# quasi-Newton and schedule-free methods
# ==========================================================================

class RpropState(NamedTuple):
    """State of Rprop for one parameter: `step` updates made, `prev` (the gradient
    kept from the last step, 0 where its sign flipped) and `step_size` (Δ, one per
    coordinate, starting at η)."""
    step: int
    prev: np.ndarray
    step_size: np.ndarray

    zeros_like = classmethod(_zero_buffers)


def rprop_update(param, grad, state, *, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    """One step of Rprop (torch.optim.Rprop), as a pure function: resilient backpropagation.

    Symbols: (η⁻, η⁺) = `etas`, (Δ_min, Δ_max) = `step_sizes`; Δ is
    `state.step_size` (start it at η = `lr`: ``RpropState.zeros_like(param, step_size=lr)``),
    g_prev `state.prev`.

        for t = 1, 2, …
            g = ∇f(θ)                                 (−∇f(θ) if maximize)
            Δ = clip(η⁺ Δ, Δ_min, Δ_max)   where g · g_prev > 0    (same sign: longer)
            Δ = clip(η⁻ Δ, Δ_min, Δ_max)   where g · g_prev < 0    (sign flipped: shorter)
            g = 0                          where g · g_prev < 0    (and no step there)
            θ = θ − sign(g) Δ
            g_prev = g

    Only the sign of the gradient is used, so the step does not depend on its
    scale (Riedmiller & Braun 1993, the "Rprop−" variant without backtracking).
    `lr` only sets the first Δ: changing it later changes nothing. Rprop is a
    full-batch method; RMSprop was Hinton's "mini-batch Rprop".

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    eta_minus, eta_plus = etas
    step_min, step_max = step_sizes
    _, g = _regularized(param, grad, weight_decay=0.0, maximize=maximize)
    agreement = np.sign(g * state.prev)
    factor = np.where(agreement > 0, eta_plus, np.where(agreement < 0, eta_minus, 1.0))
    step_size = np.clip(state.step_size * factor, step_min, step_max)
    g = np.where(agreement < 0, 0.0, g)
    new_param = param - np.sign(g) * step_size
    return new_param, RpropState(step=state.step + 1, prev=g, step_size=step_size)


class ASGDState(NamedTuple):
    """State of ASGD for one parameter: `step` updates made, `eta` (the step size
    η_t of the next update), `mu` (μ_t, the weight of the newest iterate in the
    average) and `ax` (the averaged iterate θ̄)."""
    step: int
    eta: float
    mu: float
    ax: np.ndarray

    START = {"mu": 1.0}
    zeros_like = classmethod(_zero_buffers)


def asgd_update(param, grad, state, *, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
                maximize=False):
    """One step of averaged SGD (torch.optim.ASGD), as a pure function.

    Symbols: η = `lr`, λ = `lambd`, α = `alpha`, t₀ = `t0`, λ_wd = `weight_decay`;
    η_t is `state.eta` (start it at η: ``ASGDState.zeros_like(param, eta=lr)``),
    μ_t `state.mu`, θ̄ `state.ax`.

        for t = 1, 2, …
            g = ∇f(θ) + λ_wd θ                    (−∇f(θ) + λ_wd θ if maximize)
            θ = θ (1 − λ η_t)                     a shrinkage λ
            θ = θ − η_t g
            θ̄ = θ̄ + μ_t (θ − θ̄)                  (θ̄ = θ while μ_t = 1)
            η_{t+1} = η / (1 + λ η t)^α           the decaying step size
            μ_{t+1} = 1 / max(1, t − t₀)          average uniformly from step t₀ on

    The averaged iterate θ̄ (Polyak & Juditsky 1992) is the answer ASGD gives;
    the steps are taken from θ. With the default t₀ = 10⁶ the average only
    starts after a million steps: set `t0` to see it. PyTorch's conventions:
    the step size decays as η / (1 + λ η t)^α (Bottou's schedule) and `lambd`
    also shrinks θ each step; μ_t is 1 until t > t₀ + 1, then 1 / (t − t₀).

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    t = state.step + 1
    param, g = _regularized(param, grad, weight_decay=weight_decay, maximize=maximize)
    eta = state.eta
    new_param = param * (1 - lambd * eta)
    new_param = new_param - eta * g
    if state.mu != 1:
        ax = state.ax + state.mu * (new_param - state.ax)
    else:
        ax = new_param.copy()
    new_eta = lr / (1 + lambd * lr * t) ** alpha
    new_mu = 1 / max(1, t - t0)
    return new_param, ASGDState(step=t, eta=new_eta, mu=new_mu, ax=ax)


class AdafactorState(NamedTuple):
    """State of Adafactor for one parameter: `step` updates made; for a parameter
    of 2 or more dimensions `row_var` (R, the mean of g² over the last axis, shape
    (…, n, 1)) and `col_var` (C, over the second-to-last axis, shape (…, 1, m)),
    `variance` None; for a scalar or vector `variance` (v, the average of g²) and
    the other two None."""
    step: int
    row_var: Optional[np.ndarray]
    col_var: Optional[np.ndarray]
    variance: Optional[np.ndarray]

    START = {
        "row_var": lambda p: np.zeros(p.shape[:-1] + (1,)) if p.ndim >= 2 else None,
        "col_var": lambda p: np.zeros(p.shape[:-2] + (1,) + p.shape[-1:]) if p.ndim >= 2 else None,
        "variance": lambda p: np.zeros_like(p) if p.ndim < 2 else None,
    }
    zeros_like = classmethod(_zero_buffers)


def adafactor_update(param, grad, state, *, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                     weight_decay=0.0, maximize=False):
    """One step of Adafactor (torch.optim.Adafactor), as a pure function.

    Symbols: η = `lr`, c = `beta2_decay`, (ε₁, ε₂) = `eps` (ε₁ None: the float
    type's machine epsilon, 2.2e-16 for float64), d = `d`, λ = `weight_decay`;
    R is `state.row_var`, C `state.col_var`, v `state.variance`.

        for t = 1, 2, …
            g = ∇f(θ)                              (−∇f(θ) if maximize)
            β₂_t = 1 − t^c                         the average lengthens with t
            ρ_t = min(η, 1/√t)
            α_t = max(ε₂, RMS(θ)) ρ_t              a step relative to θ's size
            θ = θ (1 − η λ)
            if θ has ≥ 2 dimensions (an n × m matrix, or a stack of them):
                R = β₂_t R + (1 − β₂_t) mean over columns of g²      (n numbers)
                C = β₂_t C + (1 − β₂_t) mean over rows of g²         (m numbers)
                v̂ = R C / max(mean(R), ε₁)         the rank-1 estimate of E[g²]
            else:
                v = β₂_t v + (1 − β₂_t) g²;   v̂ = v
            u = g / √max(v̂, ε₁²)
            θ = θ − α_t / max(1, RMS(u) / d) · u

    RMS(x) = ‖x‖ / √(number of entries). The factored second moment keeps n + m
    numbers for an n × m matrix instead of n m (Shazeer & Stern 2018). PyTorch's
    version, which this is, has no first moment (β₁ = 0), clips the update by its
    RMS with threshold d, and differs from the paper where ε₁ sits: it clamps v̂
    at ε₁² before the square root (the paper adds ε₁ to g²) and the mean of R at ε₁.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    eps1, eps2 = eps
    if eps1 is None:
        eps1 = np.finfo(param.dtype).eps
    t = state.step + 1
    _, g = _regularized(param, grad, weight_decay=0.0, maximize=maximize)
    one_minus_beta2 = t ** beta2_decay                    # 1 − β₂_t
    rho = min(lr, 1 / sqrt(t))
    alpha = max(eps2, _rms(param)) * rho
    if weight_decay != 0:
        param = param * (1 - lr * weight_decay)
    row_var, col_var, variance = state.row_var, state.col_var, state.variance
    if param.ndim >= 2:
        row_var = row_var + one_minus_beta2 * (np.mean(g * g, axis=-1, keepdims=True) - row_var)
        col_var = col_var + one_minus_beta2 * (np.mean(g * g, axis=-2, keepdims=True) - col_var)
        v_hat = row_var @ col_var / np.maximum(np.mean(row_var, axis=-2, keepdims=True), eps1)
    else:
        variance = variance + one_minus_beta2 * (g * g - variance)
        v_hat = variance
    u = g / np.sqrt(np.maximum(v_hat, eps1 * eps1))
    new_param = param - alpha / max(1.0, _rms(u) / d) * u
    return new_param, AdafactorState(step=t, row_var=row_var, col_var=col_var, variance=variance)


def _rms(x):
    """‖x‖ / √(number of entries), the root mean square of an array."""
    return float(np.linalg.norm(x.ravel())) / sqrt(x.size) if x.size else 0.0


class MuonState(NamedTuple):
    """State of Muon for one (2-D) parameter: `step` updates made and
    `momentum_buffer` (B, the average of the gradients)."""
    step: int
    momentum_buffer: np.ndarray

    zeros_like = classmethod(_zero_buffers)


def newton_schulz(G, ns_coefficients=(3.4445, -4.775, 2.0315), ns_steps=5, eps=1e-7):
    """The orthogonalization Muon applies to its momentum: about U Vᵀ for G = U S Vᵀ.

    Symbols: (a, b, c) = `ns_coefficients`, computed in float64:

        X = G / max(‖G‖_F, ε)          every singular value now ≤ 1
        (on the transpose when G has more rows than columns, so X Xᵀ is the smaller Gram matrix)
        repeat ns_steps times:
            A = X Xᵀ
            X = a X + (b A + c A²) X     each singular value σ becomes a σ + b σ³ + c σ⁵

    The quintic a σ + b σ³ + c σ⁵ pushes every singular value in (0, 1] towards
    about 1 (into roughly [0.7, 1.2] after 5 steps with the default
    coefficients, which trade exactness for speed: Jordan et al. 2024), so X
    keeps G's singular vectors and loses its scale. PyTorch computes this in
    bfloat16 (8 significant bits); here it is float64. Measured on recorded
    torch runs, Muon's steps then differ from torch's by 1.5 % of a step's
    length (median; at most 6 %), and 120-step runs end within 0.2 % of θ.
    """
    a, b, c = ns_coefficients
    X = np.asarray(G, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"newton_schulz takes a matrix (2 dimensions), got shape {X.shape}")
    tall = X.shape[0] > X.shape[1]
    if tall:
        X = X.T
    X = X / max(float(np.linalg.norm(X)), eps)
    for _ in range(ns_steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


def muon_lr(lr, shape, adjust_lr_fn=None):
    """Muon's learning rate for a matrix of `shape` (A, B) (torch's `_adjust_lr`):

        None or "original":   η √max(1, A / B)        (Keller Jordan's Muon)
        "match_rms_adamw":    η · 0.2 √max(A, B)      the update's RMS matches AdamW's (Moonshot, Liu et al. 2025)
    """
    A, B = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * sqrt(max(1.0, A / B))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * sqrt(max(A, B))
    raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")


def muon_update(param, grad, state, *, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
    """One step of Muon (torch.optim.Muon), as a pure function: momentum,
    orthogonalized. For 2-D parameters (weight matrices) only.

    Symbols: η = `lr`, λ = `weight_decay`, μ = `momentum`; B is `state.momentum_buffer`.

        for t = 1, 2, …
            B = μ B + (1 − μ) g
            M = μ B + (1 − μ) g        if nesterov, else   M = B
            O = newton_schulz(M)       ≈ U Vᵀ for M = U S Vᵀ: all singular values ≈ 1
            θ = θ (1 − η λ)            decoupled weight decay
            θ = θ − η_adj O            η_adj = muon_lr(η, θ.shape, adjust_lr_fn)

    Every direction of the update (singular vector) gets about the same step,
    whatever the gradient's spectrum (Jordan et al. 2024). Conventions: torch's
    B is an exponential average (lerp, with 1 − μ on g), not SGD's sum;
    torch computes Newton–Schulz in bfloat16, here in float64 (a step 1.5 % of
    its length apart from torch's, median; see `newton_schulz`). Scalars, vectors (biases, norms) and the embedding and output
    layers are trained with AdamW alongside, as in the reference recipe.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    _check_matrix(param)
    B = momentum * state.momentum_buffer + (1 - momentum) * grad
    M = momentum * B + (1 - momentum) * grad if nesterov else B
    O = newton_schulz(M, ns_coefficients, ns_steps, eps)
    new_param = param * (1 - lr * weight_decay)
    new_param = new_param - muon_lr(lr, param.shape, adjust_lr_fn) * O
    return new_param, MuonState(step=state.step + 1, momentum_buffer=B)


def _check_matrix(param):
    if param.ndim != 2:
        raise ValueError(f"Muon only supports 2-D parameters (weight matrices), got one of shape {param.shape}; "
                         "train scalars, vectors (biases) and other shapes with AdamW")


class LionState(NamedTuple):
    """State of Lion for one parameter: `step` updates made and `exp_avg` (m, the momentum)."""
    step: int
    exp_avg: np.ndarray

    zeros_like = classmethod(_zero_buffers)


def lion_update(param, grad, state, *, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
    """One step of Lion (lion_pytorch.Lion 0.2.5; Chen et al. 2023, "EvoLved Sign Momentum"), as a pure function.

    Symbols: η = `lr`, (β₁, β₂) = `betas`, λ = `weight_decay`; m is `state.exp_avg`.

        for t = 1, 2, …
            θ = θ (1 − η λ)                      decoupled weight decay
            c = β₁ m + (1 − β₁) g                the interpolation whose sign is the step
            θ = θ − η sign(c)                    every coordinate moves by exactly η (or 0)
            m = β₂ m + (1 − β₂) g                the momentum kept: a slower average than c's

    The sign is taken of a faster average (β₁ = 0.9) than the one kept
    (β₂ = 0.99). A sign step has the same size whatever the gradient's scale,
    so Lion's η is typically 3–10× smaller than AdamW's and λ as many times
    larger (η λ, the decay per step, stays the same). lion-pytorch's
    `decoupled_weight_decay=True` divides λ by the initial η₀, so that the
    decay per step is η λ / η₀ (the class `Lion` does this before calling here).
    There is no `maximize` and no ε: a sign needs no division.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    beta1, beta2 = betas
    param, _ = _regularized(param, grad, weight_decay=weight_decay, maximize=False, lr=lr, decoupled=True)
    c = beta1 * state.exp_avg + (1 - beta1) * grad
    new_param = param - lr * np.sign(c)
    m = beta2 * state.exp_avg + (1 - beta2) * grad
    return new_param, LionState(step=state.step + 1, exp_avg=m)


class ScheduleFreeSGDState(NamedTuple):
    """State of schedule-free SGD for one parameter: `step` (k, updates made),
    `z` (the SGD sequence, starting at θ₀), `weight_sum` (Σ of the averaging
    weights so far) and `lr_max` (the largest learning rate so far, −1 before
    the first step). The reference keeps `weight_sum` and `lr_max` per group."""
    step: int
    z: np.ndarray
    weight_sum: float
    lr_max: float

    START = {"z": np.copy, "weight_sum": 0.0, "lr_max": -1.0}
    zeros_like = classmethod(_zero_buffers)


class ScheduleFreeAdamWState(NamedTuple):
    """State of schedule-free AdamW for one parameter: `step`, `z`, `weight_sum`
    and `lr_max` as for schedule-free SGD, and `exp_avg_sq` (v, Adam's second moment)."""
    step: int
    z: np.ndarray
    exp_avg_sq: np.ndarray
    weight_sum: float
    lr_max: float

    START = {"z": np.copy, "weight_sum": 0.0, "lr_max": -1.0}
    zeros_like = classmethod(_zero_buffers)


def _schedule_free_weights(state, lr, warmup_steps, r, weight_lr_power):
    """The step's learning rate and averaging weight: (η_t, c_{t+1}, weight_sum, lr_max).

        η_t = η · min(1, (k + 1) / warmup_steps)          a linear warm-up, then η
        w = (k + 1)^r · max(η_1, …, η_t)^weight_lr_power
        c_{t+1} = w / Σ w                                 (1/(k+1) with the defaults and a constant η)
    """
    k = state.step
    lr_t = lr * (k + 1) / warmup_steps if k < warmup_steps else lr
    lr_max = max(lr_t, state.lr_max)
    weight = (k + 1) ** r * lr_max ** weight_lr_power
    weight_sum = state.weight_sum + weight
    ckp1 = weight / weight_sum if weight_sum != 0 else 0.0
    return lr_t, ckp1, weight_sum, lr_max


def schedule_free_sgd_update(param, grad, state, *, lr=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0,
                             r=0.0, weight_lr_power=2.0):
    """One step of schedule-free SGD (schedulefree.SGDScheduleFree 1.4.1, Defazio et al. 2024), as a pure function.

    Symbols: η = `lr`, β = `momentum`, λ = `weight_decay`; y is the parameter
    given (where the gradient is taken), z `state.z`; x, the average, is not
    stored: x = (y − (1 − β) z) / β (`schedule_free_eval_point`).

        for t = 1, 2, …   (k = t − 1 steps made)
            η_t, c = _schedule_free_weights(…)       c = 1/t with the defaults
            g = ∇f(y) + λ y
            y = (1 − c) y + c z                      i.e. x_{t+1} = (1 − c) x_t + c z_t, moved to y
            y = y + η_t (β (1 − c) − 1) g
            z = z − η_t g                            plain SGD on z

    Three sequences: z takes SGD steps, x is the running (weighted) average of
    the z's (Polyak averaging, with no schedule to set), and the gradient is
    taken at y = β x + (1 − β) z, between the two. The reference stores y in
    the parameters while training (its `train()` mode) and turns them into x
    with `eval()`: `step` here returns y, `eval_point` gives x.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    lr_t, ckp1, weight_sum, lr_max = _schedule_free_weights(state, lr, warmup_steps, r, weight_lr_power)
    y, g = _regularized(param, grad, weight_decay=weight_decay, maximize=False)
    y = y + ckp1 * (state.z - y)
    y = y + lr_t * (momentum * (1 - ckp1) - 1) * g
    z = state.z - lr_t * g
    return y, ScheduleFreeSGDState(step=state.step + 1, z=z, weight_sum=weight_sum, lr_max=lr_max)


def schedule_free_adamw_update(param, grad, state, *, lr=0.0025, betas=(0.9, 0.999), eps=1e-8,
                               weight_decay=0.0, warmup_steps=0, r=0.0, weight_lr_power=2.0):
    """One step of schedule-free AdamW (schedulefree.AdamWScheduleFree 1.4.1), as a pure function.

    Symbols as in `schedule_free_sgd_update`, with (β₁, β₂) = `betas` (β₁ in
    the place of β), ε = `eps`, v = `state.exp_avg_sq`:

        for t = 1, 2, …
            η_t, c = _schedule_free_weights(…)
            v = β₂ v + (1 − β₂) g²
            u = g / (√(v / (1 − β₂ᵗ)) + ε) + λ y     Adam's normalised gradient; decay at y, after it
            y = (1 − c) y + c z
            y = y + η_t (β₁ (1 − c) − 1) u
            z = z − η_t u

    No first moment: the interpolation between x and z does momentum's work.
    Conventions: the weight decay is added after the normalisation (decoupled,
    as AdamW), at the point y; the reference's default lr is 0.0025.

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _param_and_grad(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    lr_t, ckp1, weight_sum, lr_max = _schedule_free_weights(state, lr, warmup_steps, r, weight_lr_power)
    v = beta2 * state.exp_avg_sq + (1 - beta2) * grad * grad
    u = grad / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    y, u = _regularized(param, u, weight_decay=weight_decay, maximize=False)
    y = y + ckp1 * (state.z - y)
    y = y + lr_t * (beta1 * (1 - ckp1) - 1) * u
    z = state.z - lr_t * u
    return y, ScheduleFreeAdamWState(step=t, z=z, exp_avg_sq=v, weight_sum=weight_sum, lr_max=lr_max)


def schedule_free_eval_point(param, state, momentum):
    """The averaged point x from the gradient point y = `param` and `state.z`:

        x = y + (1 − 1/β) (z − y)  =  (y − (1 − β) z) / β

    (the reference's `eval()`; β is `momentum` for SGD, β₁ for AdamW). Before the first step, x = y."""
    param = _as_float_array(param)
    if state is None:
        return param.copy()
    return param + (1 - 1 / momentum) * (state.z - param)


class LBFGSState(NamedTuple):
    """State of L-BFGS, torch's fields: `n_iter` (iterations made over all calls),
    `func_evals` (closure calls), `d` (the last direction), `t` (its step
    length), `old_dirs` and `old_stps` (the last `history_size` pairs y = Δg and
    s = Δθ, oldest first), `ro` (1 / yᵀs for each pair), `H_diag` (γ = yᵀs / yᵀy,
    the scale of the initial inverse Hessian), `prev_flat_grad`, `prev_loss`.
    Parameters are one flat vector here (the class flattens a dict)."""
    n_iter: int
    func_evals: int
    d: Optional[np.ndarray]
    t: Optional[float]
    old_dirs: tuple
    old_stps: tuple
    ro: tuple
    H_diag: float
    prev_flat_grad: Optional[np.ndarray]
    prev_loss: Optional[float]

    START = {"func_evals": 0, "d": None, "t": None, "old_dirs": (), "old_stps": (), "ro": (), "H_diag": 1.0,
             "prev_flat_grad": None, "prev_loss": None}
    zeros_like = classmethod(_zero_buffers)


def lbfgs_direction(grad, old_dirs, old_stps, ro, H_diag):
    """The L-BFGS direction d = −H g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4):

        q = −g
        for i = newest … oldest:   α_i = ρ_i s_iᵀ q;   q = q − α_i y_i
        r = γ q
        for i = oldest … newest:   β_i = ρ_i y_iᵀ r;   r = r + (α_i − β_i) s_i
        d = r

    H is the inverse-Hessian estimate built from γ I and the pairs (s_i, y_i)."""
    q = -grad
    alphas = [0.0] * len(old_dirs)
    for i in reversed(range(len(old_dirs))):
        alphas[i] = float(old_stps[i] @ q) * ro[i]
        q = q - alphas[i] * old_dirs[i]
    r = q * H_diag
    for i in range(len(old_dirs)):
        beta_i = float(old_dirs[i] @ r) * ro[i]
        r = r + (alphas[i] - beta_i) * old_stps[i]
    return r


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, kept within `bounds`."""
    xmin_bound, xmax_bound = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def strong_wolfe(closure, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step length t along d satisfying the strong Wolfe conditions (torch's `_strong_wolfe`):

        f(x + t d) ≤ f(x) + c₁ t gᵀd              enough decrease
        |∇f(x + t d)ᵀd| ≤ c₂ |gᵀd|                 the slope has flattened

    by bracketing (steps growing up to 10×) then zooming with cubic
    interpolation (Nocedal & Wright, Algorithms 3.5–3.6). `closure(x)` returns
    (loss, gradient). Returns (f_new, g_new, t, closure calls)."""
    d_norm = float(np.max(np.abs(d)))

    def evaluate(step):
        loss, grad = closure(x + step * d)
        return float(loss), grad, float(grad @ d)

    f_new, g_new, gtd_new = evaluate(t)
    evals = 1
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new, gtd_new = evaluate(t)
        evals += 1
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # keep t away from the bracket's ends (at least 10 % of its width) when progress is slow
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new, gtd_new = evaluate(t)
        evals += 1
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


def lbfgs_update(param, closure, state, *, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
    """What one call of torch.optim.LBFGS's `step(closure)` does, as a pure function:
    up to `max_iter` L-BFGS iterations. Returns (new_param, new_state, loss), `loss`
    being closure's value at `param` (what torch's `step` returns).

    `param` is a flat vector; `closure(θ)` returns (f(θ), ∇f(θ)). Symbols: η = `lr`;
    s = Δθ and y = Δg are the pairs kept in `state` (up to `history_size`).

        f, g = closure(θ)                          (stop now if max |g| ≤ tolerance_grad)
        repeat up to max_iter times:
            if this is the very first iteration:  d = −g
            else:
                s = t d,  y = g − g_prev;  keep (s, y) if yᵀs > 1e-10, with γ = yᵀs / yᵀy
                d = −H g                           two-loop recursion (`lbfgs_direction`)
            t = η min(1, 1/‖g‖₁) on the very first iteration, η after
            stop if gᵀd > −tolerance_change       (not a descent direction)
            if line_search_fn == "strong_wolfe":  t = strong_wolfe(…), θ = θ + t d
            else:                                 θ = θ + t d,  f, g = closure(θ)
            stop if: max_iter reached, max_eval closure calls, max |g| ≤ tolerance_grad,
                     max |t d| ≤ tolerance_change, or |f − f_prev| < tolerance_change

    `max_eval` defaults to ⌊5 max_iter / 4⌋, as in torch. The state carries over
    from call to call, as torch's does (the first-iteration rules apply once).
    """
    if max_eval is None:
        max_eval = max_iter * 5 // 4
    given = closure

    def closure(point):
        loss, grad = given(point)
        return float(loss), _as_float_array(grad)

    x = _as_float_array(param).copy()
    n_iter_total, func_evals = state.n_iter, state.func_evals
    d, t = state.d, state.t
    old_dirs, old_stps, ro = list(state.old_dirs), list(state.old_stps), list(state.ro)
    H_diag, prev_flat_grad, prev_loss = state.H_diag, state.prev_flat_grad, state.prev_loss

    orig_loss, flat_grad = closure(x)
    loss = orig_loss = float(orig_loss)
    current_evals = 1
    func_evals += 1

    def finish():
        return x, LBFGSState(n_iter_total, func_evals, d, t, tuple(old_dirs), tuple(old_stps), tuple(ro), H_diag,
                             prev_flat_grad, prev_loss), orig_loss

    if np.max(np.abs(flat_grad)) <= tolerance_grad:
        return finish()
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        n_iter_total += 1
        if n_iter_total == 1:
            d = -flat_grad
            old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
        else:
            y = flat_grad - prev_flat_grad
            s = d * t
            ys = float(y @ s)
            if ys > 1e-10:
                if len(old_dirs) == history_size:
                    old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                old_dirs.append(y)
                old_stps.append(s)
                ro.append(1.0 / ys)
                H_diag = ys / float(y @ y)
            d = lbfgs_direction(flat_grad, old_dirs, old_stps, ro, H_diag)
        prev_flat_grad = flat_grad.copy()
        prev_loss = loss
        t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * lr if n_iter_total == 1 else lr
        gtd = float(flat_grad @ d)
        if gtd > -tolerance_change:
            break
        ls_func_evals = 0
        if line_search_fn is not None:
            loss, flat_grad, t, ls_func_evals = strong_wolfe(closure, x, t, d, loss, flat_grad, gtd,
                                                             max_ls=max_eval - current_evals)
            x = x + t * d
            opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
        else:
            x = x + t * d
            opt_cond = False
            if n_iter != max_iter:
                loss, flat_grad = closure(x)
                loss = float(loss)
                opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
                ls_func_evals = 1
        current_evals += ls_func_evals
        func_evals += ls_func_evals
        if (n_iter == max_iter or current_evals >= max_eval or opt_cond
                or np.max(np.abs(d * t)) <= tolerance_change or abs(loss - prev_loss) < tolerance_change):
            break
    return finish()


def _check_pair(name, pair, check):
    """A pair of numbers (betas, etas, ...), each passed through `check(name[i], value)`."""
    if not (isinstance(pair, (tuple, list, np.ndarray)) and len(pair) == 2):
        raise ValueError(f"{name} must be a pair of numbers, got {pair!r}")
    return tuple(check(f"{name}[{i}]", value) for i, value in enumerate(pair))


def _non_negative_integer(name, value):
    return argcheck.integer(value, name, 0)


class Rprop(Optimizer):
    """Rprop: a step per coordinate that grows while the gradient keeps its sign and
    shrinks when it flips, moved by the sign of the gradient only:
    torch.optim.Rprop without its `params` argument.

    Args:
        lr: η >= 0, the first step size Δ of every coordinate.
        etas: (η⁻, η⁺) with 0 < η⁻ < 1 < η⁺: the factors that shrink and grow Δ.
        step_sizes: (Δ_min, Δ_max) with 0 <= Δ_min <= Δ_max: the bounds of Δ.
        maximize: ascend instead of descend.
    """

    update = staticmethod(rprop_update)
    State = RpropState

    def __init__(self, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False):
        etas = _check_pair("etas", etas, lambda name, value: _hyper(name, value, 0, low_open=True))
        if not etas[0] < 1 < etas[1]:
            raise ValueError(f"etas must be (η⁻, η⁺) with 0 < η⁻ < 1 < η⁺, got {etas}")
        step_sizes = _check_pair("step_sizes", step_sizes, _at_least_zero)
        if step_sizes[0] > step_sizes[1]:
            raise ValueError(f"step_sizes must be (smallest, largest) with smallest <= largest, got {step_sizes}")
        super().__init__(lr=_at_least_zero("lr", lr), etas=etas, step_sizes=step_sizes, maximize=bool(maximize))

    def state_start(self):
        return {"step_size": self.lr}


class ASGD(Optimizer):
    """Averaged SGD: SGD with a decaying step size, keeping the average of its
    iterates (`state.ax`): torch.optim.ASGD without its `params` argument.

    Args:
        lr: η >= 0.
        lambd: λ >= 0, the decay term (shrinks θ, and slows the step size's decay).
        alpha: α >= 0, the power of the step size's decay.
        t0: t₀ >= 0, the step from which the average starts (1e6 by default).
        weight_decay: >= 0, L2 penalty added to the gradient.
        maximize: ascend instead of descend.
    """

    update = staticmethod(asgd_update)
    State = ASGDState

    def __init__(self, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *, maximize=False):
        super().__init__(lr=_at_least_zero("lr", lr), lambd=_at_least_zero("lambd", lambd),
                         alpha=_at_least_zero("alpha", alpha), t0=_at_least_zero("t0", t0),
                         weight_decay=_at_least_zero("weight_decay", weight_decay), maximize=bool(maximize))

    def state_start(self):
        return {"eta": self.lr}

    def averaged(self, params):
        """The averaged iterate θ̄ (`ax`), the same kind of thing as `params` (which only gives the keys)."""
        return _per_parameter(self.state, params, lambda state, param: state.ax.copy())


class Adafactor(Optimizer):
    """Adafactor: a second moment kept as row and column averages for matrices
    (n + m numbers for an n × m matrix), no first moment, steps relative to the
    parameter's size: torch.optim.Adafactor without its `params` argument.

    Args:
        lr: η >= 0 (ρ_t = min(η, 1/√t) is the relative step).
        beta2_decay: c <= 0; the second moment's β₂_t = 1 − t^c.
        eps: (ε₁, ε₂): ε₁ >= 0 or None (the machine epsilon), the floor of v̂; ε₂ >= 0,
            the floor of RMS(θ) in the step size.
        d: >= 1, the clipping threshold of the update's RMS.
        weight_decay: λ >= 0, decoupled (θ shrinks by 1 − ηλ).
        maximize: ascend instead of descend.
    """

    update = staticmethod(adafactor_update)
    State = AdafactorState

    def __init__(self, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 maximize=False):
        beta2_decay = _hyper("beta2_decay", beta2_decay, None, 0)
        eps = _check_pair("eps", eps, lambda name, value: value if value is None and name == "eps[0]"
                          else _at_least_zero(name, value))
        super().__init__(lr=_at_least_zero("lr", lr), beta2_decay=beta2_decay, eps=eps,
                         d=_hyper("d", d, 1), weight_decay=_at_least_zero("weight_decay", weight_decay),
                         maximize=bool(maximize))


class Muon(Optimizer):
    """Muon: SGD momentum whose update matrix is orthogonalized by Newton–Schulz,
    for 2-D parameters (weight matrices) only: torch.optim.Muon without its
    `params` argument. A parameter of another shape raises ValueError: train
    those (biases, scalars) with AdamW.

    Args:
        lr: η >= 0.
        weight_decay: λ >= 0, decoupled (θ shrinks by 1 − ηλ).
        momentum: μ >= 0.
        nesterov: use μ B + (1 − μ) g rather than B.
        ns_coefficients: (a, b, c), the quintic's coefficients.
        eps: ε > 0, the floor of ‖M‖_F in the normalisation.
        ns_steps: Newton–Schulz iterations, 1 to 99.
        adjust_lr_fn: None or "original" (η √max(1, A/B)), or "match_rms_adamw" (0.2 η √max(A, B)).
    """

    update = staticmethod(muon_update)
    State = MuonState

    def __init__(self, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
        if not (isinstance(ns_coefficients, (tuple, list)) and len(ns_coefficients) == 3):
            raise ValueError(f"ns_coefficients must be three numbers (a, b, c), got {ns_coefficients!r}")
        if adjust_lr_fn not in (None, "original", "match_rms_adamw"):
            raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")
        super().__init__(lr=_at_least_zero("lr", lr), weight_decay=_at_least_zero("weight_decay", weight_decay),
                         momentum=_at_least_zero("momentum", momentum), nesterov=bool(nesterov),
                         ns_coefficients=tuple(_hyper(f"ns_coefficients[{i}]", c, None)
                                               for i, c in enumerate(ns_coefficients)),
                         eps=_positive("eps", eps), ns_steps=argcheck.integer(ns_steps, "ns_steps", 1, 99),
                         adjust_lr_fn=adjust_lr_fn)

    def initial_state(self, param):
        _check_matrix(_as_float_array(param))
        return super().initial_state(param)


class Lion(Optimizer):
    """Lion: the sign of an interpolation of momentum and gradient, with
    decoupled weight decay: lion_pytorch.Lion (0.2.5) without its `params` argument.

    Args:
        lr: η > 0 (default 1e-4: Lion's steps are ±η in every coordinate).
        betas: (β₁, β₂), each in [0, 1]: β₁ for the sign's interpolation, β₂ for the momentum.
        weight_decay: λ >= 0, decoupled (θ shrinks by 1 − ηλ).
        decoupled_weight_decay: divide λ by the initial η, so that the decay per
            step is ηλ/η₀ (λ no longer needs retuning with η).
    """

    update = staticmethod(lion_update)
    State = LionState

    def __init__(self, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, decoupled_weight_decay=False):
        super().__init__(lr=_positive("lr", lr),
                         betas=_check_pair("betas", betas, lambda name, value: _hyper(name, value, 0, 1)),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
                         decoupled_weight_decay=bool(decoupled_weight_decay))

    def _update_arguments(self):
        hyper = dict(self._hyperparameters)
        if hyper.pop("decoupled_weight_decay"):
            hyper["weight_decay"] = hyper["weight_decay"] / self.defaults["lr"]
        return hyper


class _ScheduleFree(Optimizer):
    """What schedule-free SGD and AdamW share: `step` returns the gradient point
    y, `eval_point` the averaged point x."""

    def eval_point(self, params):
        """The averaged point x (the reference's parameters after `eval()`), the same
        kind of thing as `params`, which must be the gradient point y that `step` returned.
        Evaluate (validation loss, accuracy) at x; keep stepping from y."""
        momentum = self._hyperparameters["momentum" if "momentum" in self._hyperparameters else "betas"]
        beta = momentum if np.ndim(momentum) == 0 else momentum[0]
        return _per_parameter(self.state, params, lambda state, param: schedule_free_eval_point(param, state, beta))


class ScheduleFreeSGD(_ScheduleFree):
    """Schedule-free SGD: SGD steps on z, their running average x, and gradients
    taken between the two: schedulefree.SGDScheduleFree (1.4.1) without its
    `params` argument. No schedule needed (a warm-up is built in).

    Args:
        lr: η >= 0 (default 1.0, the reference's).
        momentum: β in (0, 1): where y sits between x (β = 1) and z (β = 0).
        weight_decay: λ >= 0, L2 added to the gradient at y.
        warmup_steps: >= 0, a linear warm-up of η over that many steps.
        r: >= 0, the average's weights grow as (k + 1)^r (0: uniform).
        weight_lr_power: >= 0, the weights also grow as η_max^power (which matters during warm-up).
    """

    update = staticmethod(schedule_free_sgd_update)
    State = ScheduleFreeSGDState

    def __init__(self, lr=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0, weight_lr_power=2.0):
        super().__init__(lr=_at_least_zero("lr", lr),
                         momentum=_hyper("momentum", momentum, 0, 1, low_open=True, high_open=True),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
                         warmup_steps=_non_negative_integer("warmup_steps", warmup_steps),
                         r=_at_least_zero("r", r), weight_lr_power=_at_least_zero("weight_lr_power", weight_lr_power))


class ScheduleFreeAdamW(_ScheduleFree):
    """Schedule-free AdamW: schedule-free SGD on Adam's normalised gradient:
    schedulefree.AdamWScheduleFree (1.4.1) without its `params` argument.

    Args:
        lr: η >= 0 (default 0.0025, the reference's).
        betas: (β₁, β₂): β₁ in (0, 1) places y between x and z; β₂ in [0, 1) as Adam's.
        eps: ε > 0, added to the square root.
        weight_decay: λ >= 0, decoupled (added to the normalised gradient at y).
        warmup_steps, r, weight_lr_power: as ScheduleFreeSGD's.
    """

    update = staticmethod(schedule_free_adamw_update)
    State = ScheduleFreeAdamWState

    def __init__(self, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, warmup_steps=0, r=0.0,
                 weight_lr_power=2.0):
        betas = _check_betas(betas)
        if betas[0] == 0:
            raise ValueError("betas[0] must be in (0, 1), got 0: the averaged point divides by it")
        super().__init__(lr=_at_least_zero("lr", lr), betas=betas, eps=_positive("eps", eps),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
                         warmup_steps=_non_negative_integer("warmup_steps", warmup_steps),
                         r=_at_least_zero("r", r), weight_lr_power=_at_least_zero("weight_lr_power", weight_lr_power))


def _per_parameter(state, params, fn):
    """`fn(state record, param)` for `params` (an array or a dict, as stepped), None state allowed."""
    if isinstance(params, Mapping):
        states = state or {}
        return {name: fn(states.get(name), _as_float_array(param)) for name, param in params.items()}
    return fn(state, _as_float_array(params))


class LBFGS(Optimizer):
    """L-BFGS: a quasi-Newton method that builds an inverse-Hessian estimate
    from the last `history_size` steps and gradients: torch.optim.LBFGS
    without its `params` argument. Full-batch: it calls the loss many times per step.

    Unlike the others, `step(params, closure)` takes a closure:
    `closure(params) -> (loss, grads)`, with `params` and `grads` the same kind
    of thing (an ndarray, or a dict name -> ndarray). One call does what torch's
    `step(closure)` does: up to `max_iter` iterations. `loss` then holds the loss
    at the parameters the call started from (what torch's `step` returns).

    Args:
        lr: η >= 0, the step length (the line search's first guess).
        max_iter: iterations per `step`, >= 1.
        max_eval: closure calls per `step` (default ⌊5 max_iter / 4⌋).
        tolerance_grad: stop when max |g| <= this.
        tolerance_change: stop when the step or the loss changes by less.
        history_size: pairs (s, y) kept, >= 1.
        line_search_fn: None (fixed steps of η) or "strong_wolfe".
    """

    State = LBFGSState
    takes_closure = True

    def __init__(self, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        max_iter = argcheck.integer(max_iter, "max_iter", 1)
        max_eval = max_iter * 5 // 4 if max_eval is None else argcheck.integer(max_eval, "max_eval", 1)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        super().__init__(lr=_at_least_zero("lr", lr), max_iter=max_iter, max_eval=max_eval,
                         tolerance_grad=_at_least_zero("tolerance_grad", tolerance_grad),
                         tolerance_change=_at_least_zero("tolerance_change", tolerance_change),
                         history_size=argcheck.integer(history_size, "history_size", 1),
                         line_search_fn=line_search_fn)
        self.loss = None

    def step(self, params, closure):
        """Up to `max_iter` iterations from `params`; returns the new parameters, the
        same kind as `params`. `closure(params) -> (loss, grads)`. Raises
        FloatingPointError when the closure returns a NaN or an infinity."""
        if not callable(closure):
            raise TypeError("LBFGS.step takes a closure: step(params, closure) with "
                            f"closure(params) -> (loss, grads); got {type(closure).__name__}")
        names = list(params) if isinstance(params, Mapping) else None
        arrays = [_as_float_array(params[n]) for n in names] if names else [_as_float_array(params)]
        shapes = [a.shape for a in arrays]
        sizes = [a.size for a in arrays]

        def unflatten(flat):
            parts = np.split(flat, np.cumsum(sizes)[:-1])
            pieces = [part.reshape(shape) for part, shape in zip(parts, shapes)]
            return dict(zip(names, pieces)) if names else pieces[0]

        def flat_closure(flat):
            loss, grads = closure(unflatten(flat))
            if names:
                if not isinstance(grads, Mapping) or set(grads) != set(names):
                    raise ValueError(f"the closure must return (loss, grads) with grads a dict with the keys "
                                     f"{names}, got {type(grads).__name__}")
                grads = [grads[n] for n in names]
            else:
                grads = [grads]
            flat_grad = np.concatenate([_param_and_grad(a, g)[1].ravel() for a, g in zip(arrays, grads)])
            if not (isfinite(loss) and np.isfinite(flat_grad).all()):
                raise FloatingPointError(f"the closure returned a loss of {loss} and a gradient with "
                                         f"{int((~np.isfinite(flat_grad)).sum())} non-finite entries: the "
                                         f"optimization has probably diverged; try a smaller lr (lr is {self.lr})")
            return loss, flat_grad

        state = self.state if self.state is not None else self.State.zeros_like(np.zeros(0))
        x0 = np.concatenate([a.ravel() for a in arrays])
        if state.prev_flat_grad is not None and state.prev_flat_grad.shape != x0.shape:
            raise ValueError("the parameters changed size since the last step; make a new optimizer")
        new_flat, self.state, self.loss = lbfgs_update(x0, flat_closure, state, **self._hyperparameters)
        return unflatten(new_flat)
