"""Optimizers: SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam and Adamax, as torch.optim has them.

The names, keyword arguments, defaults and update equations are PyTorch's
(checked step by step against torch 2.13 in ``tests/test_optim_torch.py``), so a
learner who moves on to PyTorch meets the same words and the same numbers.

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

from . import validation

__all__ = [
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax",
    "sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update", "adamw_update",
    "nadam_update", "radam_update", "adamax_update",
    "SGDState", "AdagradState", "RMSpropState", "AdadeltaState", "AdamState",
    "NAdamState", "RAdamState", "AdamaxState",
    "Optimizer",
]


def _as_float_array(x):
    """`x` as an ndarray of floats: a float array as it is (no copy), anything else
    (a list, an int, an int array) converted to float64."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------
# State records: NamedTuples with PyTorch's field names
# --------------------------------------------------------------------------

def _zero_buffers(record, param):
    """The `record` (a state NamedTuple) before the first step: step 0 and each buffer its own zero array."""
    param = _as_float_array(param)
    return record(0, *(np.zeros_like(param) for _ in record._fields[1:]))


class SGDState(NamedTuple):
    """State of SGD for one parameter: `step` updates made, and the momentum
    buffer b (None until the first step with momentum, as in PyTorch)."""
    step: int
    momentum_buffer: Optional[np.ndarray]

    @classmethod
    def zeros_like(cls, param):
        """The state before the first step."""
        return cls(step=0, momentum_buffer=None)


class AdagradState(NamedTuple):
    """State of Adagrad for one parameter: `step` updates made, and `sum`, the
    running sum of squared gradients."""
    step: int
    sum: np.ndarray

    @classmethod
    def initial(cls, param, initial_accumulator_value=0.0):
        """The state before the first step: `sum` filled with `initial_accumulator_value`."""
        return cls(step=0, sum=np.full_like(_as_float_array(param), initial_accumulator_value))

    @classmethod
    def zeros_like(cls, param):
        """The state before the first step, with `initial_accumulator_value` 0."""
        return cls.initial(param, 0.0)


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

    @classmethod
    def zeros_like(cls, param):
        """The state before the first step: both moments zero, `mu_product` 1."""
        param = _as_float_array(param)
        return cls(step=0, mu_product=1.0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))


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


def _check_same_shape(param, grad):
    if grad.shape != param.shape:
        raise ValueError(f"grad has shape {grad.shape} but param has shape {param.shape}; "
                         "they must be the same")


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
    param, grad = _as_float_array(param), _as_float_array(grad)
    _check_same_shape(param, grad)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
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
    ``AdagradState.initial(param, initial_accumulator_value)``).

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
    param, grad = _as_float_array(param), _as_float_array(grad)
    _check_same_shape(param, grad)
    t = state.step + 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
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
    param, grad = _as_float_array(param), _as_float_array(grad)
    _check_same_shape(param, grad)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
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
    param, grad = _as_float_array(param), _as_float_array(grad)
    _check_same_shape(param, grad)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
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

    Returns (new_param, new_state); `param`, `grad` and `state` are not changed.
    """
    param, grad = _as_float_array(param), _as_float_array(grad)
    _check_same_shape(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    m = beta1 * state.exp_avg + (1 - beta1) * g
    v = beta2 * state.exp_avg_sq + (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** t
    bias_correction2 = 1 - beta2 ** t
    v_max = state.max_exp_avg_sq
    if amsgrad:
        v_max = np.maximum(v_max, v)
        v_hat = v_max / bias_correction2
    else:
        v_hat = v / bias_correction2
    step_size = lr / bias_correction1                # η m̂ = (η / (1 − β₁ᵗ)) m: one scalar, one pass fewer
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
    param = _as_float_array(param)
    decayed = param * (1 - lr * weight_decay)
    return adam_update(decayed, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0,
                       amsgrad=amsgrad, maximize=maximize)


def _gradient_with_decay(param, grad, lr, weight_decay, decoupled_weight_decay, maximize):
    """The first lines of NAdam's and RAdam's updates: (θ, g) after weight decay.

    L2 (the default) adds λ θ to the gradient; decoupled decay (AdamW's) shrinks
    θ by the factor 1 − η λ instead and leaves the gradient alone."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param = param * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * param
    return param, g


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
    param, grad = _as_float_array(param), _as_float_array(grad)
    _check_same_shape(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    param, g = _gradient_with_decay(param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
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
    param, grad = _as_float_array(param), _as_float_array(grad)
    _check_same_shape(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    param, g = _gradient_with_decay(param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
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
    param, grad = _as_float_array(param), _as_float_array(grad)
    _check_same_shape(param, grad)
    beta1, beta2 = betas
    t = state.step + 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    m = beta1 * state.exp_avg + (1 - beta1) * g
    u = np.maximum(beta2 * state.exp_inf, np.abs(g) + eps)
    new_param = param - lr / (1 - beta1 ** t) * m / u
    return new_param, AdamaxState(step=t, exp_avg=m, exp_inf=u)


# --------------------------------------------------------------------------
# Checks of hyperparameters
# --------------------------------------------------------------------------

def _hyper(name, value, low, high=None, **ends):
    """``validation.number``; but, as in torch.optim, a value that is not a number at all is a TypeError."""
    if not validation.is_number(value):
        raise TypeError(f"{name} must be {validation.number_rule(low, high, **ends)}, got {value!r}")
    return validation.number(value, name, low, high, **ends)


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

    def initial_state(self, param):
        """The state record of `param` before its first step."""
        return self.State.zeros_like(param)

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
        param, grad = _as_float_array(param), _as_float_array(grad)
        if grad.shape != param.shape:
            raise ValueError(f"the gradient of {label} has shape {grad.shape} "
                             f"but {label} has shape {param.shape}; they must be the same")
        # A NaN or an infinity makes ‖g‖² = g·g non-finite: one pass, no temporary array
        # (a dot product is the cheapest reduction numpy has). ‖g‖² also overflows when
        # an entry passes about 1e154: then look closer.
        if not isfinite(np.vdot(grad, grad)) and not np.isfinite(grad).all():
            self._raise_not_finite(grad, label, 0 if state is None else state.step)
        if state is None:
            state = self.initial_state(param)
        else:
            for field, value in zip(state._fields, state):
                if isinstance(value, np.ndarray) and value.shape != param.shape:
                    raise ValueError(f"{label} has shape {param.shape} but its optimizer state "
                                     f"({field}) has shape {value.shape}: the parameter changed shape; "
                                     "make a new optimizer")
        return type(self).update(param, grad, state, **self._hyperparameters)

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

    def initial_state(self, param):
        return AdagradState.initial(param, self.initial_accumulator_value)


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
        super().__init__(lr=_at_least_zero("lr", lr),
                         betas=_check_betas(betas),
                         eps=_positive("eps", eps),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
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
        super().__init__(lr=_at_least_zero("lr", lr),
                         betas=_check_betas(betas),
                         eps=_positive("eps", eps),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
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
        super().__init__(lr=_at_least_zero("lr", lr),
                         betas=_check_betas(betas),
                         eps=_positive("eps", eps),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
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
        super().__init__(lr=_at_least_zero("lr", lr),
                         betas=_check_betas(betas),
                         eps=_positive("eps", eps),
                         weight_decay=_at_least_zero("weight_decay", weight_decay),
                         maximize=bool(maximize))
