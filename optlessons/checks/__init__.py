"""Checks that the exercises call: compare a learner's function with the reference.

Each ``check_*`` function calls the learner's function on several cases, compares
every quantity it returns with the reference in ``optlessons`` and, on the first
difference, raises :class:`CheckFailed` (an ``AssertionError``) with a message that says

* which case and which quantity differs first (``state.exp_avg (m)``,
  ``new_param``, ``state.step``, the loss ...), by how much and where
  (expected vs got, max abs difference, index);
* which known mistake the result looks like, found by computing each known
  mistake on the same case and comparing (bias correction missing, eps inside
  the square root, momentum with the wrong sign, MSE gradient without the
  factor 2 ...);
* or, in a sentence, what else went wrong: the function is not written yet,
  raised an exception (its type and message), returned None, not a tuple, a
  wrong shape, wrote into an input array, returned a state that aliases an
  input, called the course's own implementation of what it must write, or ran
  out of time.

On success it prints one line, e.g. ``✓ adam_update matches PyTorch's Adam on
6 cases``. ``cases="visible"`` (the default) runs the cases the learner sees; the
graded notebooks' hidden test cells pass their own ``cases=[...]`` and ``seed=``
(see :mod:`optlessons.checks.engine`).

    >>> from optlessons.checks import check_adam_update
    >>> check_adam_update(my_adam_update)                  # doctest: +SKIP
    ✓ adam_update matches PyTorch's Adam on 6 cases

One module per problem set (``ps1`` … ``ps6``), on the shared ``engine``.
"""

from optlessons.checks.base import (CALL_TIMEOUT, FORBIDDEN, CheckFailed, LearnerTimeout, Mistake,
                                    ReferenceCalled)
from optlessons.checks.references import forbidden_references
from optlessons.checks.ps1 import (check_mse, check_mse_grad, check_numerical_gradient,
                                   check_softmax_cross_entropy, check_softmax_cross_entropy_grad)
from optlessons.checks.ps2 import check_gradient_descent, check_max_stable_lr, check_minibatches
from optlessons.checks.ps3 import (KNOWN_MISTAKES, check_adam_update, check_rmsprop_update,
                                   check_sgd_momentum_update)
from optlessons.checks.ps4 import check_accuracy, check_optimizer_class, check_training_loop
from optlessons.checks.ps5 import check_clip_grad_norm, check_range_test, check_warmup, check_warmup_cosine
from optlessons.checks.ps6 import check_adafactor_second_moment, check_lion_update, check_newton_schulz

__all__ = [
    "CheckFailed",
    "Mistake",
    "LearnerTimeout",
    "ReferenceCalled",
    "FORBIDDEN",
    "CALL_TIMEOUT",
    "forbidden_references",
    "KNOWN_MISTAKES",
    "check_mse",
    "check_mse_grad",
    "check_softmax_cross_entropy",
    "check_softmax_cross_entropy_grad",
    "check_numerical_gradient",
    "check_gradient_descent",
    "check_minibatches",
    "check_max_stable_lr",
    "check_sgd_momentum_update",
    "check_rmsprop_update",
    "check_adam_update",
    "check_optimizer_class",
    "check_training_loop",
    "check_accuracy",
    "check_warmup",
    "check_warmup_cosine",
    "check_clip_grad_norm",
    "check_range_test",
    "check_lion_update",
    "check_adafactor_second_moment",
    "check_newton_schulz",
]
