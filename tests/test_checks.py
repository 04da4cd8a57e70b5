"""optlessons.checks: the reference passes, planted mistakes are named, nothing crashes."""

import numpy as np
import pytest

from exercise_notebooks import HIDDEN
from optlessons import checks, optim
from optlessons.checks import CheckFailed, ps3
from optlessons.optim import AdamState, SGDState

# --------------------------------------------------------------------------- learner-style code
# Written the way a learner would, independently of checks' own mistake models.


def adam(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad, bug=None):
    b1, b2 = betas
    t = state.step if bug in ("step_late",) else state.step + 1
    g = grad + weight_decay * param if weight_decay and bug != "adamw" else grad
    m = b1 * state.exp_avg + (1 - b1) * g
    v = b2 * state.exp_avg_sq + (1 - b2) * g ** 2
    vmax = np.maximum(state.max_exp_avg_sq, v) if amsgrad or bug == "max_always" else state.max_exp_avg_sq
    vv = vmax if amsgrad and bug != "no_amsgrad" else v
    m_hat = m if bug == "no_bias" else m / (1 - b1 ** t)
    v_hat = vv if bug == "no_bias" else vv / (1 - b2 ** t)
    denom = np.sqrt(v_hat + eps) if bug == "eps_inside" else np.sqrt(v_hat) + eps
    if bug == "inplace":
        param -= lr * m_hat / denom
        new = param
    elif bug == "sign":
        new = param + lr * m_hat / denom
    else:
        new = param - lr * m_hat / denom
    if bug == "adamw":
        new = new - lr * weight_decay * param
    step = state.step if bug == "step_stale" else (t if bug != "step_late" else t + 1)
    return new, AdamState(step, m, v, vmax)


def sgd(param, grad, state, *, lr, momentum, nesterov=False, bug=None):
    b = state.momentum_buffer
    if bug == "velocity":
        v = (np.zeros_like(grad) if b is None else b) * momentum - lr * grad
        return param + v, SGDState(state.step + 1, v)
    if bug == "alias":
        b = grad if b is None else momentum * b + grad
    else:
        b = grad.copy() if b is None else momentum * b + grad
    d = grad + momentum * b if (nesterov or bug == "twice") else b
    if nesterov and bug == "nesterov_old_buffer":
        d = grad + momentum * (0 if state.momentum_buffer is None else state.momentum_buffer)
    new = param + lr * d if bug == "sign" else param - lr * d
    return new, SGDState(state.step + 1, b)


def rmsprop(param, grad, state, *, lr, alpha=0.99, eps=1e-8, bug=None):
    v = alpha * state.square_avg + (1 - alpha) * grad * grad
    d = np.sqrt(v + eps) if bug == "eps_inside" else np.sqrt(v) + eps
    return param - lr * grad / d, state._replace(step=state.step + 1, square_avg=v)


def mse_grad(yp, y, bug=None):
    d = yp - y
    return {"no2": d / d.size, "no_n": 2 * d, "sign": 2 * (y - yp) / d.size}[bug]


def ce(z, labels, bug=None):
    if bug == "unshifted":
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    else:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    return float(-np.sum(np.log(p[np.arange(len(labels)), labels])) if bug == "sum"
                 else -np.mean(np.log(p[np.arange(len(labels)), labels])))


def numgrad_forward(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        g[i] = (f(x) - f0) / h
        x[i] = old
    return g


def numgrad_unrestored(f, x, h=1e-5):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        fp = f(x)
        x[i] -= 2 * h
        g[i] = (fp - f(x)) / (2 * h)
    return g


def mse_in_place(y_pred, y):
    r = y_pred
    r -= y                       # the caller's predictions are now the residuals
    return float(np.mean(r ** 2))


def gd_same_array(grad, x0, lr, steps):
    x = np.array(x0, dtype=float)
    out = [x]
    for _ in range(steps):
        x -= lr * grad(x)
        out.append(x)
    return np.array(out)


def batches_separate(X, y, bs, rng):
    ox, oy = rng.permutation(len(X)), rng.permutation(len(X))
    for s in range(0, len(X), bs):
        yield X[ox[s:s + bs]], y[oy[s:s + bs]]


def numgrad_copy_unrestored(f, x, h=1e-5):
    """The same slip on a copy of x: the caller's x is safe, but f still sees x[i] − h afterwards."""
    return numgrad_unrestored(f, np.array(x, dtype=float), h)


def batches_droplast(X, y, bs, rng):
    order = rng.permutation(len(X))
    for s in range(0, len(X) - bs + 1, bs):   # stops before the last, smaller batch
        yield X[order[s:s + bs]], y[order[s:s + bs]]


def batches_reseeded(X, y, bs, rng):
    order = np.random.default_rng(0).permutation(len(X))
    for s in range(0, len(X), bs):
        yield X[order[s:s + bs]], y[order[s:s + bs]]


# --------------------------------------------------------------------------- the reference passes
# Learner-written references: the package's own would be refused (they are what the learner writes).


def mse(yp, y):
    return float(np.mean((np.asarray(yp, float) - y) ** 2))


def mse_grad_ok(yp, y):
    d = np.asarray(yp, float) - y
    return 2 * d / d.size


def ce_grad(z, labels):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True) - np.eye(z.shape[1])[labels]) / len(labels)


def numgrad(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        g[i] = (fp - f(x)) / (2 * h)
        x[i] = old
    return g


def gd(g, x0, lr, n):
    return np.array([x0 := np.asarray(x0, float)] + [x0 := x0 - lr * g(x0) for _ in range(n)])


def batches(X, y, bs, rng):
    o = rng.permutation(len(X))
    for s in range(0, len(X), bs):
        yield X[o[s:s + bs]], y[o[s:s + bs]]


def max_lr(H):
    return 2 / np.linalg.eigvalsh(H).max()


REFERENCES = [
    (checks.check_mse, mse),
    (checks.check_mse_grad, mse_grad_ok),
    (checks.check_softmax_cross_entropy, ce),
    (checks.check_softmax_cross_entropy_grad, ce_grad),
    (checks.check_numerical_gradient, numgrad),
    (checks.check_gradient_descent, gd),
    (checks.check_minibatches, batches),
    (checks.check_max_stable_lr, max_lr),
    (checks.check_sgd_momentum_update, sgd),
    (checks.check_sgd_momentum_update, ps3.sgd_model),
    (checks.check_rmsprop_update, rmsprop),
    (checks.check_rmsprop_update, ps3.rmsprop_model),
    (checks.check_adam_update, adam),
    (checks.check_adam_update, ps3.adam_model),
]


@pytest.mark.parametrize("cases", ["visible", "hidden"])
@pytest.mark.parametrize("check, fn", REFERENCES, ids=lambda x: getattr(x, "__name__", ""))
def test_reference_passes(check, fn, cases, capsys):
    """On the visible cases and on the hidden cases the graded notebooks pass (read from
    exercises/source; the mistake models without a mistake are references too)."""
    check(fn, **({} if cases == "visible" else HIDDEN[check.__name__]))
    assert capsys.readouterr().out.startswith("✓ ")


def test_success_line(capsys):
    checks.check_adam_update(adam)
    assert capsys.readouterr().out == "✓ adam_update matches PyTorch's Adam on 6 cases\n"


# --------------------------------------------------------------------------- planted mistakes


def bug(f, name, **fixed):
    def g(*a, **kw):
        return f(*a, bug=name, **kw, **fixed)
    return g


MISTAKES = [
    ("adam: no bias correction", checks.check_adam_update, bug(adam, "no_bias"),
     ["bias correction is missing", "new_param"]),
    ("adam: step late", checks.check_adam_update, bug(adam, "step_late"),
     ["not incremented before bias correction"]),
    ("adam: returned step stale", checks.check_adam_update, bug(adam, "step_stale"),
     ["state.step", "expected 1, got 0", "keeps the old step"]),
    ("adam: eps inside sqrt", checks.check_adam_update, bug(adam, "eps_inside"),
     ["eps is inside the square root"]),
    ("adam: sign", checks.check_adam_update, bug(adam, "sign"), ["wrong sign"]),
    ("adam: AdamW decay", checks.check_adam_update, bug(adam, "adamw"),
     ["decoupled weight decay", "state.exp_avg (m)"]),
    ("adam: amsgrad ignored", checks.check_adam_update, bug(adam, "no_amsgrad"),
     ["AMSGrad maximum is stored but not used"]),
    ("adam: max kept without amsgrad", checks.check_adam_update, bug(adam, "max_always"),
     ["max_exp_avg_sq is updated although amsgrad=False"]),
    ("sgd: nesterov with the old buffer", checks.check_sgd_momentum_update,
     bug(sgd, "nesterov_old_buffer"), ["used the old buffer"]),
    ("adam: in place", checks.check_adam_update, bug(adam, "inplace"),
     ["changed its input `param` in place"]),
    ("sgd: sign", checks.check_sgd_momentum_update, bug(sgd, "sign"), ["wrong sign"]),
    ("sgd: velocity form", checks.check_sgd_momentum_update, bug(sgd, "velocity"),
     ["velocity", "state.momentum_buffer (b)"]),
    ("sgd: momentum twice", checks.check_sgd_momentum_update, bug(sgd, "twice"),
     ["momentum is applied twice"]),
    ("sgd: state aliases grad", checks.check_sgd_momentum_update, bug(sgd, "alias"),
     ["aliases its input", "`grad`"]),
    ("rmsprop: eps inside", checks.check_rmsprop_update, bug(rmsprop, "eps_inside"),
     ["eps is inside the square root"]),
    ("mse_grad: no 2", checks.check_mse_grad, bug(mse_grad, "no2"), ["factor 2 is missing"]),
    ("mse_grad: no 1/n", checks.check_mse_grad, bug(mse_grad, "no_n"), ["1/n is missing"]),
    ("mse_grad: sign", checks.check_mse_grad, bug(mse_grad, "sign"), ["sign is flipped"]),
    ("mse: sum", checks.check_mse, lambda yp, y: float(np.sum((yp - y) ** 2)), ["summed"]),
    ("mse: square of the mean", checks.check_mse, lambda yp, y: np.mean(yp - y) ** 2,
     ["expected 0.5625, got 0.015625", "squared the mean of the errors, np.mean(r)**2", "np.mean(r**2)"]),
    ("mse: in place", checks.check_mse, mse_in_place,
     ["changed its input `y_pred` in place", "`r = y_pred - y`"]),
    ("mse: per-column mean", checks.check_mse, lambda yp, y: np.mean((yp - y) ** 2, axis=0),
     ["shape", "first axis only"]),
    ("ce: not shifted", checks.check_softmax_cross_entropy, bug(ce, "unshifted"),
     ["not shifted", "overflow", "nan"]),
    ("ce: sum", checks.check_softmax_cross_entropy, bug(ce, "sum"), ["summed over the examples"]),
    ("numgrad: forward differences", checks.check_numerical_gradient, numgrad_forward,
     ["forward differences"]),
    ("numgrad: copy not restored", checks.check_numerical_gradient, numgrad_copy_unrestored,
     ["not put back"]),
    ("numgrad: x not restored", checks.check_numerical_gradient, numgrad_unrestored,
     ["changed its input `x` in place", "moves the point they asked about", "x = np.array(x, dtype=float)"]),
    ("gd: same array", checks.check_gradient_descent, gd_same_array,
     ["every row is the same point", "stored the same array"]),
    ("gd: ascent", checks.check_gradient_descent,
     lambda g, x0, lr, n: np.array([x0 := np.asarray(x0, float)] + [x0 := x0 + lr * g(x0) for _ in range(n)]),
     ["uphill"]),
    ("batches: pairs broken", checks.check_minibatches, batches_separate, ["pairs (x, y) are broken"]),
    ("batches: re-seeded", checks.check_minibatches, batches_reseeded, ["same order"]),
    ("batches: last dropped", checks.check_minibatches, batches_droplast,
     ["last, smaller batch is missing"]),
    ("max lr: 1/lambda", checks.check_max_stable_lr, lambda H: 1 / np.linalg.eigvalsh(H).max(),
     ["1/λ_max"]),
    ("max lr: diagonal", checks.check_max_stable_lr, lambda H: 2 / np.max(np.diag(H)),
     ["diagonal"]),
]


@pytest.mark.parametrize("label, check, fn, phrases", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistake_is_named(label, check, fn, phrases):
    with pytest.raises(CheckFailed) as info:
        check(fn)
    msg = str(info.value)
    for phrase in phrases:
        assert phrase in msg, msg


def test_message_names_quantity_amount_and_place():
    with pytest.raises(CheckFailed) as info:
        checks.check_adam_update(bug(adam, "no_bias"))
    msg = str(info.value)
    assert "case 1 of 6" in msg and "expected" in msg and "got" in msg
    assert "max abs difference" in msg and "at index" in msg


# --------------------------------------------------------------------------- never crashes

def raises_inside(*a, **k):
    return {}["no such key"]


BROKEN = [
    ("None", lambda p, g, s, **k: None, "returned None"),
    ("not a tuple", lambda p, g, s, **k: p - 0.1 * g, "not a tuple"),
    ("a 3-tuple", lambda p, g, s, **k: (p, s, s), "tuple of 3 items"),
    ("plain tuple state", lambda p, g, s, **k: (p, tuple(s)), "without the field `step`"),
    ("wrong shape", lambda p, g, s, **k: (p.ravel()[:1], s._replace(step=s.step + 1)), "shape"),
    ("exception", raises_inside, "raised KeyError: 'no such key'"),
    ("not implemented", lambda *a, **k: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
    ("wrong signature", lambda p, g, s, lr: (p, s), "Keep the signature"),
    ("strings", lambda p, g, s, **k: ("abc", adam(p, g, s, **k)[1]), "not a number"),
    ("None state field", lambda p, g, s, **k: (p, s._replace(step=s.step + 1, exp_avg=None)), "is None"),
    ("float step", lambda p, g, s, **k: (p, s._replace(step=s.step + 0.5)), "should be an int"),
]


@pytest.mark.parametrize("label, fn, phrase", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_function_is_reported_not_crashed(label, fn, phrase):
    with pytest.raises(CheckFailed) as info:
        checks.check_adam_update(fn)
    assert phrase in str(info.value)


@pytest.mark.parametrize("check", [checks.check_mse, checks.check_mse_grad,
                                   checks.check_softmax_cross_entropy,
                                   checks.check_softmax_cross_entropy_grad,
                                   checks.check_numerical_gradient, checks.check_gradient_descent,
                                   checks.check_minibatches, checks.check_max_stable_lr,
                                   checks.check_sgd_momentum_update, checks.check_rmsprop_update,
                                   checks.check_warmup, checks.check_warmup_cosine,
                                   checks.check_clip_grad_norm, checks.check_range_test,
                                   checks.check_lion_update, checks.check_adafactor_second_moment,
                                   checks.check_newton_schulz],
                         ids=lambda c: c.__name__)
@pytest.mark.parametrize("fn", [lambda *a, **k: None, lambda *a, **k: "text",
                                lambda *a, **k: np.zeros((7, 7)), raises_inside, 42],
                         ids=["None", "str", "wrong shape", "raises", "not callable"])
def test_every_check_reports_broken_functions(check, fn):
    with pytest.raises(CheckFailed) as info:
        check(fn)
    assert str(info.value)


@pytest.mark.parametrize("cases", ["secret", "hidden", [], [3]])
def test_cases_must_be_visible_or_a_list_of_specs(cases):
    with pytest.raises(ValueError, match="visible") as info:
        checks.check_mse(mse, cases=cases)
    assert "hidden test cells" in str(info.value)


def test_a_spec_without_a_needed_key_is_named():
    with pytest.raises(ValueError, match="'steps'"):
        checks.check_adam_update(adam, cases=[dict(shape=(3,), lr=0.1)])


def test_a_misspelt_key_is_named_not_blamed_on_the_learner():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['momentm'\]"):
        checks.check_sgd_momentum_update(sgd, cases=[dict(shape=(3,), steps=1, lr=0.1, momentm=0.9)])


# --------------------------------------------------------------------------- hints say the right thing

def test_no_bias_correction_hint_gets_the_size_right():
    """Without bias correction Adam's first step is (1 − β1)/√(1 − β2) ≈ 3.16 times lr with the
    default betas: too large, not too small. The hint says so, with that factor."""
    p, g = np.array([0.5, -1.0, 2.0]), np.array([0.3, -2.0, 0.01])
    kw = dict(lr=0.1, betas=(0.9, 0.999), eps=1e-12, weight_decay=0.0, amsgrad=False)
    right, _ = optim.adam_update(p, g, AdamState.zeros_like(p), **kw)
    tweaks = ps3.ADAM_VARIANTS["no_bias_correction"].tweaks
    wrong, _ = ps3.adam_model(p, g, AdamState.zeros_like(p), **kw, **tweaks)
    ratio = np.abs(wrong - p) / np.abs(right - p)
    np.testing.assert_allclose(ratio, 0.1 / np.sqrt(0.001), rtol=1e-6)   # 3.162...
    hint = checks.KNOWN_MISTAKES["adam_update"]["no_bias_correction"]
    assert "too large" in hint and "too small" not in hint
    assert "3.2 × lr" in hint and "(1 − β1)/√(1 − β2)" in hint


def test_amsgrad_hint_names_the_corrected_maximum():
    assert "√(max_exp_avg_sq/(1 − β2^t)) + ε" in checks.KNOWN_MISTAKES["adam_update"]["amsgrad_ignored"]


# --------------------------------------------------------------------------- how a failure is shown

def test_check_failed_renders_as_its_message_alone():
    with pytest.raises(CheckFailed) as info:
        checks.check_adam_update(bug(adam, "no_bias"))
    lines = info.value._render_traceback_()
    assert " ".join(" ".join(lines).split()) == " ".join(("CheckFailed: " + str(info.value)).split())
    assert not any("optlessons/checks" in line or "engine.py" in line or "File " in line for line in lines)


LEARNER_FILE = '''\
import numpy as np


def adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad):
    m = betas[0] * state.exp_avg + (1 - betas[0]) * grad
    step = np.linalg.solve(np.eye(2), m)
    return param - lr * step, state
'''


def test_exception_message_names_the_learners_line_not_numpys(tmp_path, monkeypatch):
    (tmp_path / "learner_adam.py").write_text(LEARNER_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import learner_adam
    with pytest.raises(CheckFailed) as info:
        checks.check_adam_update(learner_adam.adam_update)
    msg = str(info.value)
    assert "raised ValueError" in msg
    assert "at line 6: `step = np.linalg.solve(np.eye(2), m)`" in msg, msg


def test_notebook_shows_the_message_without_checks_frames():
    """In a notebook (and so in nbgrader's feedback, which shows the stored error output)
    a failed check shows `CheckFailed: <message>`, not frames of optlessons/checks/."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np\nfrom optlessons import checks"),
        nbformat.v4.new_code_cell(
            "def adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad):\n"
            "    m = betas[0] * state.exp_avg + (1 - betas[0]) * grad\n"
            "    return param - lr * np.linalg.solve(np.eye(2), m), state"),
        nbformat.v4.new_code_cell("checks.check_adam_update(adam_update)"),
        nbformat.v4.new_code_cell("from optlessons.optim import adam_update as ref\n"
                                  "checks.check_sgd_momentum_update(ref)"),
    ]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.ename for e in errors] == ["CheckFailed", "CheckFailed"]
    # lines wrapped at spaces for JupyterLab: compare the words, not the line breaks
    raised, mismatch = (" ".join(" ".join(e.traceback).split()) for e in errors)
    for tb, e in zip((raised, mismatch), errors):
        assert "optlessons/checks" not in tb and "engine.py" not in tb and "Traceback" not in tb, tb
        assert tb.startswith("CheckFailed: ") and " ".join(e.evalue.splitlines()[0].split()) in tb
    assert "raised ValueError" in raised
    assert "at line 3: `return param - lr * np.linalg.solve(np.eye(2), m), state`" in raised, raised
    assert "does not match the reference" in mismatch or "raised TypeError" in mismatch, mismatch


def _train_epochs(kind):
    def train_epochs(model, params, optimizer, X, y, *, epochs, batch_size, rng):
        n = len(X)
        first = rng.permutation(n)
        for epoch in range(epochs):
            order = {"ok": first if epoch == 0 else rng.permutation(n),
                     "shuffle": None, "global": np.random.permutation(n),
                     "fixed": np.arange(n), "once": first}[kind]
            if kind == "shuffle":          # another shuffle from the rng passed in: accepted
                order = np.arange(n)
                rng.shuffle(order)
            for s in range(0, n, batch_size):
                idx = order[s:s + batch_size]
                params = optimizer.step(params, model.backward(params, X[idx], y[idx])[1])
        return params
    return train_epochs


@pytest.mark.parametrize("kind", ["ok", "shuffle"])
def test_training_loop_accepts_shuffles_from_the_rng(kind, capsys):
    checks.check_training_loop(_train_epochs(kind))
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("kind, phrase", [("global", "two runs with the same `rng`"),
                                          ("fixed", "stored order"),
                                          ("once", "reuses that order in every epoch")])
def test_training_loop_names_shuffling_mistakes(kind, phrase):
    with pytest.raises(CheckFailed) as info:
        checks.check_training_loop(_train_epochs(kind))
    assert phrase in str(info.value)


def test_a_long_message_wraps_at_spaces_never_inside_a_word():
    from optlessons.checks.base import CheckFailed

    words = [f"word{i}" for i in range(60)]
    message = "`mse` does not match:\n  " + " ".join(words) + "\n  short line"
    lines = CheckFailed(message)._render_traceback_()
    assert all(len(line) <= CheckFailed.WIDTH for line in lines)
    assert " ".join(" ".join(lines).split()) == " ".join(f"CheckFailed: {message}".split())
    assert all(line.startswith("    ") for line in lines[2:-1])     # continuation under its indent
    assert lines[-1] == "  short line"


def test_the_in_place_message_is_worded_for_the_function_checked():
    """An update keeps the optimizer's wording; numerical_gradient and the losses get their own."""
    def adam_in_place(param, grad, state, **kw):
        param -= 0.1 * grad
        return adam(param, grad, state, **kw)
    messages = {}
    for name, check, fn in [("adam", checks.check_adam_update, adam_in_place),
                            ("numgrad", checks.check_numerical_gradient, numgrad_unrestored),
                            ("mse", checks.check_mse, mse_in_place)]:
        with pytest.raises(CheckFailed) as failure:
            check(fn)
        messages[name] = str(failure.value)
    assert "x -= lr * g" in messages["adam"] and "a trajectory stored earlier" in messages["adam"]
    assert not any("x -= lr * g" in messages[k] or "trajectory" in messages[k] for k in ("numgrad", "mse"))
