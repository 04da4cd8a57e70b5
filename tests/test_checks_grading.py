"""optlessons.checks under grading (issue 11): the course's references may not be called,
hidden cases are not in the package, every argument survives a pickle round trip (the judge
runs the learner's code in another process), timeouts and interrupts read as such, the PS1
hint works and integer inputs are tested."""

import io
import pickle
import re
import tokenize
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exercise_notebooks import ASSIGNMENTS, HIDDEN, solutions
from optlessons import checks, gradcheck, losses, optim, train
from optlessons.checks import CheckFailed, base, ps1, ps2, ps3, ps4, ps5, ps6, references
from optlessons.models import LinearRegression, SoftmaxRegression
from optlessons.optim import SGDState

PACKAGE = Path(checks.__file__).resolve().parents[1]
SOLVED = {}
for _assignment in ASSIGNMENTS:   # PS4 imports adam_update: PS3's own stays the solution
    for _name, _value in solutions(_assignment).items():
        SOLVED.setdefault(_name, _value)
LEARNER = {   # check -> the name of what the learner writes
    "check_mse": "mse", "check_mse_grad": "mse_grad",
    "check_softmax_cross_entropy": "softmax_cross_entropy",
    "check_softmax_cross_entropy_grad": "softmax_cross_entropy_grad",
    "check_numerical_gradient": "numerical_gradient", "check_gradient_descent": "gradient_descent",
    "check_minibatches": "minibatches", "check_max_stable_lr": "max_stable_lr",
    "check_sgd_momentum_update": "sgd_momentum_update", "check_rmsprop_update": "rmsprop_update",
    "check_adam_update": "adam_update", "check_optimizer_class": "MyAdam",
    "check_training_loop": "train_epochs",
    "check_warmup": "warmup", "check_warmup_cosine": "warmup_cosine",
    "check_clip_grad_norm": "clip_grad_norm", "check_range_test": "range_test",
    "check_lion_update": "lion_update", "check_adafactor_second_moment": "adafactor_second_moment",
    "check_newton_schulz": "newton_schulz",
}


# --------------------------------------------------------------------------- honest solutions pass


@pytest.mark.parametrize("check", sorted(LEARNER))
def test_source_solutions_pass_visible_and_hidden(check, capsys):
    """The instructor's solutions (PS4's MyAdam calls the imported adam_update) are not flagged."""
    fn = SOLVED[LEARNER[check]]
    getattr(checks, check)(fn)
    getattr(checks, check)(fn, **HIDDEN[check])
    out = capsys.readouterr().out
    assert out.count("✓ ") == 2, out


@pytest.mark.parametrize("check", sorted(LEARNER))
def test_hidden_cases_are_marked_only_while_their_check_runs(check, capsys):
    """HIDDEN_CASES (a grading kernel hides the learner's prints while it is non-zero) is set
    during a check's hidden cases and 0 again once the check returns or fails: left set, it
    hid the output of whatever learner code ran next in the same thread."""
    fn, seen = SOLVED[LEARNER[check]], []

    def spy(*args, **kwargs):
        seen.append(base.HIDDEN_CASES.get())
        return fn(*args, **kwargs)
    spy.__name__ = LEARNER[check]
    getattr(checks, check)(spy, **HIDDEN[check])
    assert seen and all(seen) and base.HIDDEN_CASES.get() == 0
    with pytest.raises(CheckFailed):
        getattr(checks, check)(lambda *a, **k: None, **HIDDEN[check])
    assert base.HIDDEN_CASES.get() == 0


def test_every_check_has_hidden_cases_in_the_source_notebooks():
    assert set(HIDDEN) == set(LEARNER)
    assert all(set(kw) == {"cases", "seed"} for kw in HIDDEN.values())


# --------------------------------------------------------------------------- the course's references


def copied(f):
    """The reference's code object in a new function (not the package's function object)."""
    g = types.FunctionType(f.__code__, f.__globals__, "mine", f.__defaults__, f.__closure__)
    g.__kwdefaults__ = f.__kwdefaults__
    return g


def wrapped(f):
    def mine(*args, **kwargs):
        return f(*args, **kwargs)
    return mine


def swallowed(f):
    """Calls the reference, catches what the tripwire raises, and calls it again."""
    def mine(*args, **kwargs):
        try:
            f(*args, **kwargs)
        except BaseException:
            pass
        return f(*args, **kwargs)
    return mine


def aliased(module, name, alias):
    """`from optlessons.MODULE import NAME as ALIAS`, the way a learner's cell would write it."""
    names = {}
    exec(f"from optlessons.{module} import {name} as {alias}", names)
    return names[alias]


FUNCTION_REFERENCES = [   # check, the reference, module, name
    ("check_mse", losses.mse, "losses", "mse"),
    ("check_mse_grad", losses.mse_grad, "losses", "mse_grad"),
    ("check_softmax_cross_entropy", losses.softmax_cross_entropy, "losses", "softmax_cross_entropy"),
    ("check_softmax_cross_entropy_grad", losses.softmax_cross_entropy_grad, "losses",
     "softmax_cross_entropy_grad"),
    ("check_numerical_gradient", gradcheck.numerical_gradient, "gradcheck", "numerical_gradient"),
    ("check_sgd_momentum_update", optim.sgd_update, "optim", "sgd_update"),
    ("check_rmsprop_update", optim.rmsprop_update, "optim", "rmsprop_update"),
    ("check_adam_update", optim.adam_update, "optim", "adam_update"),
    ("check_training_loop", train.fit, "train", "fit"),
    ("check_clip_grad_norm", train.clip_grad_norm, "train", "clip_grad_norm"),
    ("check_lion_update", optim.lion_update, "optim", "lion_update"),
    ("check_newton_schulz", optim.newton_schulz, "optim", "newton_schulz"),
]
FORMS = {"direct": lambda f, m, n, a: f, "alias": lambda f, m, n, a: aliased(m, n, a),
         "wrapped": lambda f, m, n, a: wrapped(f), "copied code": lambda f, m, n, a: copied(f),
         "exception swallowed": lambda f, m, n, a: swallowed(f)}


def fit_epochs(model, params, optimizer, X, y, *, epochs, batch_size, rng):
    return train.fit(model, params, optimizer, X, y, epochs=epochs, batch_size=batch_size, rng=rng).final


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("check, ref, module, name", FUNCTION_REFERENCES,
                         ids=[r[0] for r in FUNCTION_REFERENCES])
def test_calling_the_reference_function_fails(check, ref, module, name, form):
    f = fit_epochs if check == "check_training_loop" else ref
    cheat = FORMS[form](f, module, name, LEARNER[check])
    if check == "check_training_loop" and form == "alias":
        cheat = aliased("train", "fit", "fit_alias")
        cheat = (lambda fit: lambda m, p, o, X, y, **k: fit(m, p, o, X, y, **k).final)(cheat)
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(cheat)
    msg = str(info.value)
    assert f"calls the course's `optlessons.{module}.{name}`" in msg, msg
    assert msg.startswith(f"`{LEARNER[check]}` calls") and msg.endswith("yourself.")


def sgd_by_class(cls):
    def sgd_momentum_update(param, grad, state, *, lr, momentum, nesterov=False):
        opt = cls(lr=lr, momentum=momentum, nesterov=nesterov)
        opt.state = state
        return opt.step(param, grad), opt.state
    return sgd_momentum_update


def rmsprop_by_class(cls):
    def rmsprop_update(param, grad, state, *, lr, alpha=0.99, eps=1e-8):
        opt = cls(lr=lr, alpha=alpha, eps=eps)
        opt.state = state
        return opt.step(param, grad), opt.state
    return rmsprop_update


def adam_by_class(cls):
    def adam_update(param, grad, state, **hyper):
        opt = cls(**hyper)
        opt.state = state
        return opt.step(param, grad), opt.state
    return adam_update


def gd_by_class(cls):
    def gradient_descent(grad, x0, lr, steps):
        opt, x = cls(lr=lr), np.array(x0, dtype=float)
        points = [x]
        for _ in range(steps):
            x = opt.step(x, grad(x))
            points.append(x)
        return np.array(points)
    return gradient_descent


def gd_by_update(grad, x0, lr, steps):
    x = np.array(x0, dtype=float)
    points = [x]
    for _ in range(steps):
        x, _ = optim.sgd_update(x, grad(x), SGDState.zeros_like(x), lr=lr)
        points.append(x)
    return np.array(points)


def mse_by_model(y_pred, y):
    return LinearRegression(1).loss({"w": np.ones(1), "b": np.zeros(())}, np.asarray(y_pred)[:, None], y)


def ce_by_model(logits, labels):
    k = logits.shape[1]
    return SoftmaxRegression(k, k).loss({"W": np.eye(k), "b": np.zeros(k)}, logits, labels)


def ce_by_log_softmax(logits, labels):
    return float(-np.mean(losses.log_softmax(logits, axis=1)[np.arange(len(labels)), labels]))


def ce_grad_by_softmax(logits, labels):
    return (losses.softmax(logits, axis=1) - np.eye(logits.shape[1])[labels]) / len(labels)


def subclass(base):
    return type("Mine", (base,), {})


class AdamHolder:
    """A class of the learner's that keeps the course's Adam inside."""

    def __init__(self, **hyper):
        self.opt = optim.Adam(**hyper)

    def step(self, params, grads):
        return self.opt.step(params, grads)


CLASS_ATTACKS = [   # check, the cheat, the reference named
    ("check_mse", mse_by_model, "optlessons.losses.mse"),
    ("check_softmax_cross_entropy", ce_by_model, "optlessons.losses.softmax_cross_entropy"),
    ("check_softmax_cross_entropy", ce_by_log_softmax, "optlessons.losses.log_softmax"),
    ("check_softmax_cross_entropy_grad", ce_grad_by_softmax, "optlessons.losses.softmax"),
    ("check_gradient_descent", gd_by_class(optim.SGD), "optlessons.optim.SGD"),
    ("check_gradient_descent", gd_by_class(subclass(optim.SGD)), "optlessons.optim.SGD"),
    ("check_gradient_descent", gd_by_update, "optlessons.optim.sgd_update"),
    ("check_sgd_momentum_update", sgd_by_class(optim.SGD), "optlessons.optim.SGD"),
    ("check_sgd_momentum_update", sgd_by_class(subclass(optim.SGD)), "optlessons.optim.SGD"),
    ("check_rmsprop_update", rmsprop_by_class(optim.RMSprop), "optlessons.optim.RMSprop"),
    ("check_rmsprop_update", rmsprop_by_class(subclass(optim.RMSprop)), "optlessons.optim.RMSprop"),
    ("check_adam_update", adam_by_class(optim.Adam), "optlessons.optim.Adam"),
    ("check_adam_update", adam_by_class(subclass(optim.Adam)), "optlessons.optim.Adam"),
    ("check_adam_update", wrapped(optim.adamw_update), "optlessons.optim.adamw_update"),
    ("check_optimizer_class", optim.Adam, "optlessons.optim.Adam"),
    ("check_optimizer_class", aliased("optim", "Adam", "MyAdam"), "optlessons.optim.Adam"),
    ("check_optimizer_class", subclass(optim.Adam), "optlessons.optim.Adam"),
    ("check_optimizer_class", subclass(optim.AdamW), "optlessons.optim.AdamW"),
    ("check_optimizer_class", AdamHolder, "optlessons.optim.Adam"),
]


@pytest.mark.parametrize("check, cheat, reference", CLASS_ATTACKS,
                         ids=[f"{a[0]}-{a[2].rsplit('.', 1)[1]}-{i}" for i, a in enumerate(CLASS_ATTACKS)])
def test_calling_a_reference_through_a_class_fails(check, cheat, reference):
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(cheat)
    assert f"calls the course's `{reference}`" in str(info.value), str(info.value)


def test_forbidden_references_are_data_that_resolve():
    assert checks.forbidden_references("check_adam_update") == (
        "optlessons.optim.adam_update", "optlessons.optim.adamw_update",
        "optlessons.optim.Adam", "optlessons.optim.AdamW")
    # PS4's locked cell imports adam_update for MyAdam: only the classes are forbidden there
    assert "optlessons.optim.adam_update" not in checks.forbidden_references("check_optimizer_class")
    assert set(references.FORBIDDEN_REFERENCES) == {f"check_{n}" for n in (
        "mse", "mse_grad", "softmax_cross_entropy", "softmax_cross_entropy_grad",
        "numerical_gradient", "gradient_descent", "minibatches", "max_stable_lr",
        "sgd_momentum_update", "rmsprop_update", "adam_update", "optimizer_class", "training_loop",
        "warmup", "warmup_cosine", "clip_grad_norm", "range_test", "lion_update",
        "adafactor_second_moment", "newton_schulz")}
    for check in references.FORBIDDEN_REFERENCES:
        refs = checks.forbidden_references(check)
        assert len(references.reference_codes(refs)) >= len(refs)   # each resolves to code objects
    with pytest.raises(ValueError, match="check_name"):
        checks.forbidden_references("check_nothing")


def test_a_class_reference_does_not_forbid_the_function_it_names():
    """Adam's body says `update = staticmethod(adam_update)`: adam_update is not Adam's code."""
    codes = references.reference_codes(("optlessons.optim.Adam",))
    assert optim.adam_update.__code__ not in codes
    assert optim.Optimizer.step.__code__ in codes and optim.Adam.__init__.__code__ in codes


def test_forbidden_is_set_during_each_learner_call_only():
    seen = []

    def spy(param, grad, state, **hyper):
        seen.append(checks.FORBIDDEN.get())
        return ps3.adam_model(param, grad, state, **hyper)
    checks.check_adam_update(spy)
    assert seen == [checks.forbidden_references("check_adam_update")] * 6
    assert checks.FORBIDDEN.get() == ()


def test_a_reference_called_in_another_process_is_reported_the_same():
    """A grading proxy raises ReferenceCalled from the learner's process."""
    def proxy(*args, **kwargs):
        raise checks.ReferenceCalled("adam_update", "optlessons.optim.adam_update")
    with pytest.raises(CheckFailed, match=re.escape(
            "`adam_update` calls the course's `optlessons.optim.adam_update`: write the update yourself.")):
        checks.check_adam_update(proxy)


# --------------------------------------------------------------------------- timeouts and interrupts


def interrupted(*args, **kwargs):
    raise KeyboardInterrupt


def timed_out(*args, **kwargs):
    raise checks.LearnerTimeout("adam_update", 30.0)


@pytest.mark.parametrize("fn, how", [(interrupted, "was interrupted"), (timed_out, "ran out of time")])
def test_a_timeout_names_function_case_limit_and_cause(fn, how):
    with pytest.raises(CheckFailed) as info:
        checks.check_adam_update(fn)
    msg = str(info.value)
    assert msg.startswith(f"`adam_update` {how}") and "on case 1 of 6 (param of shape (3,)" in msg, msg
    assert "30 s per call" in msg and "infinite loop" in msg
    assert "not written" not in msg


def test_the_limit_named_is_call_timeout():
    token = checks.CALL_TIMEOUT.set(5.0)
    try:
        with pytest.raises(CheckFailed, match="the limit is 5 s per call"):
            checks.check_mse(interrupted)
    finally:
        checks.CALL_TIMEOUT.reset(token)


@pytest.mark.parametrize("check", ["check_optimizer_class", "check_training_loop"])
def test_ps4_interrupt_is_not_not_written_yet(check):
    class Slow:
        def __init__(self, **hyper):
            pass

        def step(self, params, grads):
            raise KeyboardInterrupt
    fn = Slow if check == "check_optimizer_class" else interrupted
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(fn)
    msg = str(info.value)
    assert "was interrupted" in msg and "not written" not in msg and "infinite loop" in msg


def test_not_implemented_is_the_only_not_written_yet():
    def todo(*args, **kwargs):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="not written yet"):
        checks.check_training_loop(todo)


# --------------------------------------------------------------------------- hidden cases are not shipped


def package_sources():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_hidden_cases_in_the_package():
    strings = []
    for path in package_sources():
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if tok.type == tokenize.STRING:
                strings.append((path.name, tok.string))
    assert not [s for s in strings if s[1].strip("'\"") == "hidden"], "a 'hidden' case selector is back"
    text = "\n".join(p.read_text() for p in (PACKAGE / "checks").glob("*.py"))
    assert "1000 +" not in text and '"hidden" else' not in text
    for check, kwargs in HIDDEN.items():
        assert not re.search(rf"\b{kwargs['seed']}\b", text) or kwargs["seed"] < 100, (check, kwargs["seed"])


@pytest.mark.parametrize("check", sorted(HIDDEN))
def test_hidden_specs_are_not_visible_specs(check):
    visible = {ps1: ("MSE_VISIBLE", "CE_VISIBLE", "NUMGRAD_VISIBLE"),
               ps2: ("GD_VISIBLE", "BATCHES_VISIBLE", "MAX_LR_VISIBLE"),
               ps3: ("SGD_VISIBLE", "RMSPROP_VISIBLE", "ADAM_VISIBLE"),
               ps4: ("OPTIMIZER_CLASS_VISIBLE", "TRAINING_VISIBLE"),
               ps5: ("WARMUP_VISIBLE", "WARMUP_COSINE_VISIBLE", "CLIP_VISIBLE", "RANGE_TEST_VISIBLE"),
               ps6: ("LION_VISIBLE", "ADAFACTOR_VISIBLE", "NEWTON_SCHULZ_VISIBLE")}
    shipped = [spec for module, names in visible.items() for n in names for spec in getattr(module, n)]
    assert not [spec for spec in HIDDEN[check]["cases"] if spec in shipped]


# --------------------------------------------------------------------------- pickling


def write_back(original, after, memo):
    """Copy `after`'s state into `original` (the judge's write-back); memo: id(after) -> original."""
    memo[id(after)] = original
    if isinstance(original, np.ndarray):
        if original.shape != after.shape or original.dtype != after.dtype:
            original.resize(after.shape, refcheck=False)
        original[...] = after
    elif isinstance(original, np.random.Generator):
        original.bit_generator.state = after.bit_generator.state
    elif isinstance(original, (tuple, list)) and len(original) == len(after):
        for o, a in zip(original, after):
            write_back(o, a, memo)
    elif isinstance(original, dict):
        for k in list(original):
            if k not in after:
                del original[k]
        for k, a in after.items():
            if k in original and isinstance(a, (np.ndarray, dict)) and type(original[k]) is type(a):
                write_back(original[k], a, memo)
            else:
                original[k] = a
    elif hasattr(original, "__dict__") and not isinstance(original, type):
        for k, a in vars(after).items():
            o = vars(original).get(k)
            if isinstance(o, (np.ndarray, dict)) or (type(o) is type(a) and hasattr(o, "__dict__")):
                write_back(o, a, memo)
            else:
                setattr(original, k, a)


def remap(x, memo):
    """The result with every object that *is* a post-call argument replaced by the original."""
    if id(x) in memo:
        return memo[id(x)]
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(remap(v, memo) for v in x))
    if isinstance(x, (tuple, list)):
        return type(x)(remap(v, memo) for v in x)
    return x


def round_trip(obj):
    return pickle.loads(pickle.dumps(obj))


def through_pickle(fn):
    """fn as the judge calls it: arguments pickled to it, (result, args, kwargs) pickled back
    in one pickle, the post-call arguments written back into the originals."""
    def call(*args, **kwargs):
        sent_args, sent_kwargs = round_trip((args, kwargs))
        result = fn(*sent_args, **sent_kwargs)
        if isinstance(result, types.GeneratorType):   # the learner's process runs a generator out
            result = list(result)
        result, after_args, after_kwargs = round_trip((result, sent_args, sent_kwargs))
        memo = {}
        for original, after in zip(args, after_args):
            write_back(original, after, memo)
        for k in kwargs:
            write_back(kwargs[k], after_kwargs[k], memo)
        return remap(result, memo)
    return call


def class_through_pickle(cls):
    class Remote:
        def __init__(self, **kwargs):
            self.obj = cls(**round_trip(kwargs))

        def step(self, params, grads):
            return through_pickle(self.obj.step)(params, grads)
    Remote.__name__ = cls.__name__
    return Remote


@pytest.mark.parametrize("cases", ["visible", "hidden"])
@pytest.mark.parametrize("check", sorted(LEARNER))
def test_every_check_passes_through_a_pickle_round_trip(check, cases, capsys):
    fn = SOLVED[LEARNER[check]]
    remote = class_through_pickle(fn) if isinstance(fn, type) else through_pickle(fn)
    getattr(checks, check)(remote, **({} if cases == "visible" else HIDDEN[check]))
    assert capsys.readouterr().out.startswith("✓ ")


def inplace_adam(param, grad, state, **hyper):
    new, state = ps3.adam_model(param, grad, state, **hyper)
    param[...] = new
    return param, state


def aliasing_sgd(param, grad, state, *, lr, momentum, nesterov=False):
    new, s = ps3.sgd_model(param, grad, state, lr=lr, momentum=momentum, nesterov=nesterov)
    return new, s._replace(momentum_buffer=grad) if state.momentum_buffer is None else s


def inplace_step(self, params, grads):
    for k in params:
        params[k] -= 0.0 * grads[k] + 1e-3
    return dict(params)


@pytest.mark.parametrize("check, fn, phrase", [
    ("check_adam_update", inplace_adam, "changed its input `param` in place"),
    ("check_sgd_momentum_update", aliasing_sgd, "aliases its input"),
    ("check_optimizer_class", type("MyAdam", (), {"__init__": lambda self, **k: None, "step": inplace_step}),
     "changed params['W1'] in place"),
])
def test_in_place_writes_are_still_caught_through_pickle(check, fn, phrase):
    remote = class_through_pickle(fn) if isinstance(fn, type) else through_pickle(fn)
    with pytest.raises(CheckFailed, match=re.escape(phrase)):
        getattr(checks, check)(remote)


def test_a_counted_training_loop_is_counted_through_pickle():
    opt = ps4.CountingOptimizer(optim.Adam(lr=0.01))
    model = ps4.MLP(64, hidden=(4,), n_classes=10)
    X, y = np.random.default_rng(0).normal(size=(10, 64)), np.arange(10)
    through_pickle(SOLVED["train_epochs"])(model, model.init(np.random.default_rng(1)), opt, X, y,
                                           epochs=2, batch_size=4, rng=np.random.default_rng(0))
    assert opt.calls == 6


# --------------------------------------------------------------------------- PS1: the hint, integers


def ce_as_hinted(logits, labels):
    """Task 3's hint, followed to the letter: shift, then p, then log(p)."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(labels)), labels])))


def test_the_hinted_cross_entropy_passes_every_graded_case(capsys):
    checks.check_softmax_cross_entropy(ce_as_hinted)
    checks.check_softmax_cross_entropy(ce_as_hinted, **HIDDEN["check_softmax_cross_entropy"])
    assert capsys.readouterr().out.count("✓") == 2


def test_an_underflowing_log_is_not_called_a_sum():
    """log(0) = −inf where the reference is finite: inf equals the 'sum' mistake's inf, but
    that mistake does not explain the cases the learner got right, so it is not named."""
    cases = [dict(n=3, k=4, scale=1.0), dict(n=6, k=5, scale=1000.0)]
    with pytest.raises(CheckFailed) as info:
        checks.check_softmax_cross_entropy(ce_as_hinted, cases=cases, seed=0)
    msg = str(info.value)
    assert "case 2 of 2" in msg and "nan or inf where the reference is finite" in msg
    assert "summed over the examples" not in msg and "known mistake" not in msg, msg


def numgrad_int_copy(f, x, h=1e-5):
    x = x.copy()   # keeps an integer dtype: x[i] + h is truncated
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        g[i] = (fp - f(x)) / (2 * h)
        x[i] = old
    return g


def test_integer_x_in_numerical_gradient_is_graded_and_named():
    assert any(np.asarray(c.get("x", [0.5])).dtype.kind == "i" for c in HIDDEN["check_numerical_gradient"]["cases"])
    checks.check_numerical_gradient(numgrad_int_copy)   # float x: the copy is harmless
    with pytest.raises(CheckFailed) as info:
        checks.check_numerical_gradient(numgrad_int_copy, **HIDDEN["check_numerical_gradient"])
    msg = str(info.value)
    assert "(an integer array)" in msg and "kept its integer dtype" in msg, msg


def gd_in_place_on_a_copy(grad, x0, lr, steps):
    x = np.array(x0)
    points = [x.copy()]
    for _ in range(steps):
        x -= lr * grad(x)
        points.append(x.copy())
    return np.array(points)


def test_integer_x0_in_gradient_descent_is_graded_and_explained():
    checks.check_gradient_descent(gd_in_place_on_a_copy)   # float x0: passes
    with pytest.raises(CheckFailed) as info:
        checks.check_gradient_descent(gd_in_place_on_a_copy, **HIDDEN["check_gradient_descent"])
    msg = str(info.value)
    assert "(integers)" in msg and "integer array" in msg and "np.array(x, dtype=float)" in msg, msg


def test_integer_inputs_to_mse_are_graded(capsys):
    assert any("y_pred" in c for c in HIDDEN["check_mse"]["cases"])
    checks.check_mse(SOLVED["mse"], **HIDDEN["check_mse"])
    assert "✓" in capsys.readouterr().out


def test_untrained_parameters_name_every_cause():
    with pytest.raises(CheckFailed) as info:
        checks.check_accuracy(None, None, None, None, target=0.95)
    msg = str(info.value)
    assert "time limit" in msg and "did not assign `trained_params`" in msg


def thread_cheat(param, grad, state, **hyper):
    """The reference run in a thread the learner's code starts."""
    import threading
    out = []
    t = threading.Thread(target=lambda: out.append(optim.adam_update(param, grad, state, **hyper)))
    t.start()
    t.join()
    return out[0] if out else (param, state)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_reference_called_in_a_thread_is_caught():
    with pytest.raises(CheckFailed, match="calls the course's `optlessons.optim.adam_update`"):
        checks.check_adam_update(thread_cheat)


def swallowed_then_broken(param, grad, state, **hyper):
    try:
        optim.adam_update(param, grad, state, **hyper)
    except BaseException:
        pass
    return {}["the learner's own bug afterwards"]


def test_a_caught_reference_call_is_still_reported():
    with pytest.raises(CheckFailed, match="calls the course's `optlessons.optim.adam_update`"):
        checks.check_adam_update(swallowed_then_broken)


# --------------------------------------------------------------------------- properties

adam_specs = st.fixed_dictionaries({
    "shape": st.sampled_from([(1,), (3,), (2, 3)]), "steps": st.integers(0, 30),
    "lr": st.floats(1e-4, 1.0), "betas": st.tuples(st.floats(0.0, 0.99), st.floats(0.5, 0.9999)),
    "eps": st.floats(1e-8, 0.1), "weight_decay": st.sampled_from([0.0, 0.01, 0.5]),
    "amsgrad": st.booleans()})


@settings(max_examples=30, deadline=None)
@given(specs=st.lists(adam_specs, min_size=1, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_any_cases_honest_adam_passes_through_pickle(specs, seed):
    """Whatever cases a hidden test cell writes, the honest solution passes, also when its
    arguments and results travel through the judge's pickle round trip."""
    adam_update = SOLVED["adam_update"]
    checks.check_adam_update(adam_update, cases=specs, seed=seed)
    checks.check_adam_update(through_pickle(adam_update), cases=specs, seed=seed)


@settings(max_examples=30, deadline=None)
@given(x=st.lists(st.integers(-5, 5), min_size=1, max_size=4), h=st.sampled_from([1e-3, 1e-4]))
def test_any_integer_x_names_the_integer_copy(x, h):
    spec = [dict(f="cubic", x=x, h=h)]
    checks.check_numerical_gradient(SOLVED["numerical_gradient"], cases=spec)
    with pytest.raises(CheckFailed, match="kept its integer dtype"):
        checks.check_numerical_gradient(numgrad_int_copy, cases=spec)


REMOTE_TRACEBACK = '''Traceback (most recent call last):
  File "<learner cell 3>", line 5, in adam_update
    step = np.linalg.solve(np.eye(2), m)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3/dist-packages/numpy/linalg/_linalg.py", line 451, in solve
    r = gufunc(a, b, signature=signature)
ValueError: solve1: size 3 is different from 2
'''


def test_an_exception_from_the_learners_process_names_the_learners_line():
    """A grading proxy re-raises the learner's exception with the traceback text of the
    learner's process (`learner_traceback`); the message names the learner's line in it."""
    def proxy(*args, **kwargs):
        exc = ValueError("solve1: size 3 is different from 2")
        exc.learner_traceback = REMOTE_TRACEBACK
        raise exc
    with pytest.raises(CheckFailed) as info:
        checks.check_adam_update(proxy)
    assert "raised ValueError: solve1: size 3 is different from 2 at line 5: " \
           "`step = np.linalg.solve(np.eye(2), m)`" in str(info.value), str(info.value)


def test_no_line_is_named_when_none_is_the_learners():
    def proxy(*args, **kwargs):
        exc = ValueError("boom")
        exc.learner_traceback = REMOTE_TRACEBACK.split('  File "/usr')[0].replace(
            "<learner cell 3>", "/usr/lib/python3/dist-packages/numpy/x.py")
        raise exc
    with pytest.raises(CheckFailed) as info:
        checks.check_adam_update(proxy)
    assert "raised ValueError: boom\n" in str(info.value) and "at line" not in str(info.value)


def test_a_timeout_while_naming_the_mistake_keeps_the_difference():
    """The other cases are called again to choose between mistakes; if one of those calls is
    stopped, the message is still the difference found, and no more calls are made."""
    calls = []

    def wrong_then_slow(param, grad, state, **hyper):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return ps3.adam_model(param, grad, state, **hyper, direction=+1)
    with pytest.raises(CheckFailed) as info:
        checks.check_adam_update(wrong_then_slow)
    assert "does not match the reference on case 1 of 6" in str(info.value)
    assert len(calls) == 2
    assert info.value._render_traceback_()[0].startswith("CheckFailed: ")


def test_a_training_loop_stopped_while_its_shuffle_is_examined_fails():
    calls = []

    def fixed_order_then_slow(model, params, optimizer, X, y, *, epochs, batch_size, rng):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        for _ in range(epochs):
            for s in range(0, len(X), batch_size):
                params = optimizer.step(params, model.backward(params, X[s:s + batch_size],
                                                               y[s:s + batch_size])[1])
        return params
    with pytest.raises(CheckFailed, match="stored order"):
        checks.check_training_loop(fixed_order_then_slow)

    def reseeded_then_slow(model, params, optimizer, X, y, *, epochs, batch_size, rng):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return SOLVED["train_epochs"](model, params, optimizer, X, y, epochs=epochs,
                                      batch_size=batch_size, rng=np.random.default_rng(99))
    calls.clear()
    with pytest.raises(CheckFailed, match="was interrupted"):
        checks.check_training_loop(reseeded_then_slow)
