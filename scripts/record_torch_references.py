"""Record torch runs that the tests replay with optlessons, which then needs no torch.

Run it with a Python that has torch (not a dependency of optlessons), e.g.

    python3 -m venv .venv-record
    .venv-record/bin/pip install torch==2.13.0 numpy lion-pytorch==0.2.5 schedulefree==1.4.1
    .venv-record/bin/python scripts/record_torch_references.py [optimizers frontier schedules clip_ema]

(lion-pytorch and schedulefree are needed only here, never by optlessons). It
writes four files in tests/data/:

* torch_references.npz: torch.optim trajectories (tests/test_optim_torch.py);
* frontier_references.npz: the optimizers of lesson 11 (Rprop, ASGD,
  Adafactor, Muon, LBFGS from torch; Lion from lion-pytorch; schedule-free SGD
  and AdamW from schedulefree), whole runs and, for LBFGS, step(closure) calls
  (tests/test_optim_frontier.py);
* torch_schedules.npz: the learning rates of torch.optim.lr_scheduler
  schedulers, and ReduceLROnPlateau fed recorded metric sequences
  (tests/test_schedules_torch.py);
* torch_clip_ema.npz: torch.nn.utils.clip_grad_norm_ on recorded gradients,
  and torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn on a
  recorded sequence of weights (tests/test_train_torch.py).

torch's default dtype is set to float64 first: NAdam keeps its `mu_product`
(and every optimizer its `step`) in the default dtype, and a float32
`mu_product` would differ from float64 arithmetic by 1e-7.

Optimizer runs. Every run is float64: a torch optimizer takes STEPS steps on a
problem whose gradient depends on the parameters; the gradient is computed here
in numpy from the current parameter values (the functions below, which the test
imports, so it replays the very same gradient), and the learning rate is halved
after STEPS // 2 steps through `param_groups`. The runs are chosen out of
chaotic regimes (no oscillating large steps), so rounding differences of 1e-16
stay near 1e-14 over all the steps instead of being amplified past the test's
1e-10. Each file also holds its runs' configurations and torch's version (the
optimizer file torch's defaults for every class too), as JSON strings.

Importing this module does not import torch; only `main()` does.
"""

import json
import pathlib

import numpy as np

STEPS = 300
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "torch_references.npz"

# ---------------------------------------------------------------------------
# Problems: start point and numpy gradient. Parameters are a dict name -> array.
# ---------------------------------------------------------------------------

def make_data():
    """The problems' fixed arrays. They are saved in the .npz and the test reads
    them from there, so a different numpy or LAPACK cannot change them."""
    rng = np.random.default_rng(20240607)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    return {
        "quadratic_A": q @ np.diag(np.logspace(0, 2, 5)) @ q.T,     # condition number 100
        "tanh_regression_X": rng.normal(size=(8, 2)),
        "tanh_regression_Y": rng.normal(size=(8, 2)),
    }


def make_matrix_data():
    """The two-layer matrix problem's data (in the frontier file, so the first file's stay as recorded)."""
    rng = np.random.default_rng(20261207)
    return {"matrix_X": rng.normal(size=(10, 3)), "matrix_Y": rng.normal(size=(10, 2))}


def rosenbrock_grad(params, data):
    """f(x, y) = (1 − x)² + 100 (y − x²)², parameter "xy" of shape (2,)."""
    x, y = params["xy"]
    return {"xy": np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])}


def quadratic_grad(params, data):
    """f(x) = ½ xᵀAx + 0.0125 Σ x⁴ with A of condition number 100, parameter "x" of shape (5,)."""
    x = params["x"]
    return {"x": data["quadratic_A"] @ x + 0.05 * x ** 3}


def tanh_regression_grad(params, data):
    """f(w, b) = ½ mean((tanh(X w + b) − Y)²), two parameters: "w" (2, 2) and "b" (2,)."""
    w, b = params["w"], params["b"]
    X, Y = data["tanh_regression_X"], data["tanh_regression_Y"]
    y = np.tanh(X @ w + b)
    dz = (y - Y) * (1 - y * y) / Y.size
    return {"w": X.T @ dz, "b": dz.sum(axis=0)}


def matrix_grad(params, data):
    """f(W1, W2) = ½ mean((tanh(X W1) W2 − Y)²): W1 (3, 5) wide, W2 (5, 2) tall, both 2-D (for Muon)."""
    W1, W2 = params["W1"], params["W2"]
    X, Y = data["matrix_X"], data["matrix_Y"]
    h = np.tanh(X @ W1)
    dout = (h @ W2 - Y) / Y.size
    dh = dout @ W2.T * (1 - h * h)
    return {"W1": X.T @ dh, "W2": h.T @ dout}


def rosenbrock_loss(params, data):
    x, y = params["xy"]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def quadratic_loss(params, data):
    x = params["x"]
    return 0.5 * x @ data["quadratic_A"] @ x + 0.0125 * np.sum(x ** 4)


def tanh_regression_loss(params, data):
    y = np.tanh(data["tanh_regression_X"] @ params["w"] + params["b"])
    return 0.5 * np.mean((y - data["tanh_regression_Y"]) ** 2)


def matrix_loss(params, data):
    out = np.tanh(data["matrix_X"] @ params["W1"]) @ params["W2"]
    return 0.5 * np.mean((out - data["matrix_Y"]) ** 2)


LOSSES = {"rosenbrock": rosenbrock_loss, "quadratic": quadratic_loss, "tanh_regression": tanh_regression_loss,
          "matrix": matrix_loss}


def closure(problem, data):
    """closure(params) -> (loss, grads) for LBFGS."""
    return lambda params: (LOSSES[problem](params, data), PROBLEMS[problem][0](params, data))


PROBLEMS = {
    "rosenbrock": (rosenbrock_grad, {"xy": np.array([-1.2, 1.0])}),
    "quadratic": (quadratic_grad, {"x": np.array([1.0, -2.0, 0.5, 3.0, -1.0])}),
    "tanh_regression": (tanh_regression_grad, {"w": np.array([[0.5, -0.3], [0.2, 0.8]]),
                                               "b": np.array([0.1, -0.2])}),
    "matrix": (matrix_grad, {"W1": np.array([[0.3, -0.2, 0.5, 0.1, -0.4], [0.2, 0.4, -0.1, 0.3, 0.2],
                                             [-0.3, 0.1, 0.2, -0.2, 0.5]]),
                             "W2": np.array([[0.2, -0.1], [0.1, 0.3], [-0.2, 0.2], [0.4, -0.3], [0.1, 0.1]])}),
}


def gradient(problem, params, data, maximize=False):
    """The gradient the optimizer sees: that of f, or of −f when `maximize` (so
    a maximizing optimizer still walks down f and the run stays bounded)."""
    grad_fn, _ = PROBLEMS[problem]
    grads = grad_fn(params, data)
    return {k: -g for k, g in grads.items()} if maximize else grads


# ---------------------------------------------------------------------------
# Runs: class, keyword arguments, problem. Every option of every class.
# ---------------------------------------------------------------------------

RUNS = [
    ("SGD", {}, "quadratic"),
    ("SGD", {"lr": 1e-3}, "rosenbrock"),
    ("SGD", {"lr": 1e-3, "momentum": 0.9}, "rosenbrock"),
    ("SGD", {"lr": 5e-3, "momentum": 0.8, "dampening": 0.3}, "quadratic"),
    ("SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, "rosenbrock"),
    ("SGD", {"lr": 0.5, "momentum": 0.5, "nesterov": True, "weight_decay": 0.01}, "tanh_regression"),
    ("SGD", {"lr": 5e-3, "weight_decay": 0.1}, "quadratic"),
    ("SGD", {"lr": 1e-3, "momentum": 0.5, "maximize": True}, "rosenbrock"),
    ("Adagrad", {}, "rosenbrock"),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}, "quadratic"),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1}, "tanh_regression"),
    ("Adagrad", {"lr": 0.05, "initial_accumulator_value": 0.1}, "rosenbrock"),
    ("Adagrad", {"lr": 0.1, "eps": 1e-6, "maximize": True}, "quadratic"),
    ("RMSprop", {}, "rosenbrock"),
    ("RMSprop", {"lr": 1e-3, "momentum": 0.9}, "quadratic"),
    ("RMSprop", {"lr": 1e-2, "centered": True}, "tanh_regression"),
    ("RMSprop", {"lr": 1e-3, "centered": True, "momentum": 0.5, "alpha": 0.9}, "quadratic"),
    ("RMSprop", {"lr": 1e-2, "weight_decay": 0.1, "eps": 1e-6, "maximize": True}, "quadratic"),
    ("Adadelta", {}, "rosenbrock"),
    ("Adadelta", {"rho": 0.5, "maximize": True}, "quadratic"),
    ("Adadelta", {"weight_decay": 0.1}, "tanh_regression"),
    ("Adadelta", {"lr": 0.5, "rho": 0.95, "eps": 1e-4}, "tanh_regression"),
    ("Adam", {}, "quadratic"),
    ("Adam", {"lr": 1e-2}, "rosenbrock"),
    ("Adam", {"lr": 1e-2, "amsgrad": True}, "tanh_regression"),
    ("Adam", {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.1}, "quadratic"),
    ("Adam", {"lr": 1e-2, "eps": 1e-3, "amsgrad": True, "maximize": True}, "rosenbrock"),
    ("AdamW", {}, "rosenbrock"),
    ("AdamW", {"lr": 1e-2, "amsgrad": True, "maximize": True}, "quadratic"),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.8, 0.99), "eps": 1e-6}, "tanh_regression"),
    ("NAdam", {}, "quadratic"),
    ("NAdam", {"lr": 1e-2}, "rosenbrock"),
    ("NAdam", {"lr": 1e-2, "weight_decay": 0.1}, "tanh_regression"),
    ("NAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True, "betas": (0.8, 0.99)}, "quadratic"),
    ("NAdam", {"lr": 5e-3, "momentum_decay": 0.05, "eps": 1e-6, "maximize": True}, "rosenbrock"),
    ("NAdam", {"lr": 1e-2, "momentum_decay": 0.0}, "tanh_regression"),
    ("RAdam", {}, "quadratic"),
    ("RAdam", {"lr": 1e-3}, "rosenbrock"),
    ("RAdam", {"lr": 1e-2, "weight_decay": 0.1}, "tanh_regression"),
    ("RAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True, "eps": 1e-6}, "quadratic"),
    ("RAdam", {"lr": 2e-3, "betas": (0.8, 0.9), "maximize": True}, "quadratic"),  # ρ_t > 5 from t = 6 on
    ("RAdam", {"lr": 2e-2, "betas": (0.9, 0.6)}, "tanh_regression"),   # ρ_∞ = 4: never rectified
    ("Adamax", {}, "quadratic"),
    ("Adamax", {"lr": 1e-2}, "rosenbrock"),
    ("Adamax", {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.8, 0.99)}, "tanh_regression"),
    ("Adamax", {"lr": 1e-2, "eps": 1e-3, "maximize": True}, "quadratic"),
]

CLASS_NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax"]
# The hyperparameters optlessons supports, whose torch defaults the test compares.
SUPPORTED = {
    "SGD": ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"],
    "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"],
    "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"],
    "Adadelta": ["lr", "rho", "eps", "weight_decay", "maximize"],
    "Adam": ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"],
    "AdamW": ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"],
    "NAdam": ["lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize"],
    "RAdam": ["lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize"],
    "Adamax": ["lr", "betas", "eps", "weight_decay", "maximize"],
}


# ---------------------------------------------------------------------------
# The optimizers added for lesson 11 (tests/data/frontier_references.npz): torch's
# Rprop, ASGD, Adafactor, Muon and LBFGS, lion_pytorch's Lion, schedulefree's two.
# "Muon_float64" is torch's Muon with its Newton–Schulz run in float64 instead of
# bfloat16 (torch's function patched, below): optlessons computes in float64.
# ---------------------------------------------------------------------------

FRONTIER_STEPS = 120
FRONTIER_RUNS = [
    ("Rprop", {}, "quadratic"),
    ("Rprop", {"lr": 1e-3, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.05)}, "rosenbrock"),
    ("Rprop", {"lr": 0.05, "maximize": True}, "tanh_regression"),
    ("ASGD", {}, "quadratic"),
    ("ASGD", {"lr": 1e-3, "t0": 50, "lambd": 1e-2, "alpha": 0.5}, "rosenbrock"),
    ("ASGD", {"lr": 0.5, "t0": 20, "weight_decay": 0.1, "maximize": True}, "tanh_regression"),
    ("Adafactor", {}, "tanh_regression"),
    ("Adafactor", {"lr": 0.02, "beta2_decay": -0.5, "eps": (1e-20, 1e-2), "d": 2.0}, "matrix"),
    ("Adafactor", {"lr": 0.02, "weight_decay": 0.1, "maximize": True}, "quadratic"),
    ("Adafactor", {"lr": 0.3}, "matrix"),
    ("Muon", {}, "matrix"),
    ("Muon", {"lr": 0.02, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}, "matrix"),
    ("Muon", {"lr": 0.01, "adjust_lr_fn": "match_rms_adamw"}, "matrix"),
    ("Muon_float64", {}, "matrix"),
    ("Muon_float64", {"lr": 0.02, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}, "matrix"),
    ("Muon_float64", {"lr": 0.01, "adjust_lr_fn": "match_rms_adamw", "ns_steps": 3}, "matrix"),
    ("Muon_float64", {"lr": 0.01, "adjust_lr_fn": "original", "ns_coefficients": (2.0, -1.5, 0.5),
                      "eps": 1e-5}, "matrix"),
    ("Lion", {}, "quadratic"),
    ("Lion", {"lr": 1e-3, "betas": (0.95, 0.98), "weight_decay": 0.1}, "tanh_regression"),
    ("Lion", {"lr": 1e-3, "weight_decay": 1e-4, "decoupled_weight_decay": True}, "matrix"),
    ("ScheduleFreeSGD", {"lr": 1e-3}, "rosenbrock"),
    ("ScheduleFreeSGD", {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.01, "warmup_steps": 20}, "quadratic"),
    ("ScheduleFreeSGD", {"lr": 0.5, "r": 1.0, "weight_lr_power": 1.0}, "tanh_regression"),
    ("ScheduleFreeAdamW", {}, "quadratic"),
    ("ScheduleFreeAdamW", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "warmup_steps": 30}, "rosenbrock"),
    ("ScheduleFreeAdamW", {"lr": 0.02, "eps": 1e-6, "r": 0.5, "weight_lr_power": 0.0}, "matrix"),
]
# LBFGS: (keyword arguments, problem, number of step(closure) calls); the lr is not changed.
LBFGS_RUNS = [
    ({}, "quadratic", 3),
    ({"lr": 0.1, "max_iter": 5}, "quadratic", 20),
    ({"line_search_fn": "strong_wolfe"}, "rosenbrock", 4),
    ({"line_search_fn": "strong_wolfe", "max_iter": 4, "max_eval": 6, "history_size": 3}, "rosenbrock", 5),
    ({"lr": 0.5, "max_iter": 3, "max_eval": 10, "history_size": 2}, "quadratic", 10),
    ({"line_search_fn": "strong_wolfe", "tolerance_grad": 1e-5, "tolerance_change": 1e-6}, "tanh_regression", 5),
]
FRONTIER_SUPPORTED = {
    "Rprop": ["lr", "etas", "step_sizes", "maximize"],
    "ASGD": ["lr", "lambd", "alpha", "t0", "weight_decay", "maximize"],
    "Adafactor": ["lr", "beta2_decay", "eps", "d", "weight_decay", "maximize"],
    "Muon": ["lr", "weight_decay", "momentum", "nesterov", "ns_coefficients", "eps", "ns_steps", "adjust_lr_fn"],
    "LBFGS": ["lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size", "line_search_fn"],
    "Lion": ["lr", "betas", "weight_decay", "decoupled_weight_decay"],
    "ScheduleFreeSGD": ["lr", "momentum", "weight_decay", "warmup_steps", "r", "weight_lr_power"],
    "ScheduleFreeAdamW": ["lr", "betas", "eps", "weight_decay", "warmup_steps", "r", "weight_lr_power"],
}
SCHEDULE_FREE = ("ScheduleFreeSGD", "ScheduleFreeAdamW")


def reference_class(torch, name):
    """The reference implementation of optlessons.optim.<name>."""
    if name in ("Lion",):
        import lion_pytorch
        return lion_pytorch.Lion
    if name in SCHEDULE_FREE:
        import schedulefree
        return {"ScheduleFreeSGD": schedulefree.SGDScheduleFree,
                "ScheduleFreeAdamW": schedulefree.AdamWScheduleFree}[name]
    return getattr(torch.optim, name.removesuffix("_float64"))


def newton_schulz_float64(torch):
    """torch's _zeropower_via_newtonschulz with `grad.bfloat16()` replaced by a float64 copy."""
    def zeropower(grad, ns_coefficients, ns_steps, eps):
        a, b, c = ns_coefficients
        X = grad.clone()
        if grad.size(0) > grad.size(1):
            X = X.T
        X.div_(X.norm().clamp(min=eps))
        for _ in range(ns_steps):
            A = X @ X.T
            B = torch.addmm(A, A, A, beta=b, alpha=c)
            X = torch.addmm(X, B, X, beta=a)
        if grad.size(0) > grad.size(1):
            X = X.T
        return X
    return zeropower


def drive(torch, opt, tensors, start, problem, data, schedule, steps, maximize, after_step=None):
    """Step `opt` `steps` times on `problem`, setting each group's lr from `schedule` ((step, lr)
    pairs) and the gradients from `gradient`; {name: [start, θ_1, ...]}. after_step(name, tensor)
    runs after each step for each parameter."""
    traj = {k: [v.copy()] for k, v in start.items()}
    for t in range(steps):
        for when, lr in schedule:
            if when == t:
                for group in opt.param_groups:
                    group["lr"] = lr
        current = {k: p.detach().numpy().copy() for k, p in tensors.items()}
        grads = gradient(problem, current, data, maximize)
        for k, p in tensors.items():
            p.grad = torch.from_numpy(grads[k].copy())
        opt.step()
        for k, p in tensors.items():
            traj[k].append(p.detach().numpy().copy())
            if after_step is not None:
                after_step(k, p)
    return traj


def record_frontier_run(torch, class_name, kwargs, problem, data):
    """Run the reference; ({name: trajectory}, lr schedule, {name: extra}) where the extra arrays are
    the averaged point at the end (schedule-free: after eval()) or ASGD's ax at every step."""
    import torch.optim._muon as muon_module
    _, start = PROBLEMS[problem]
    tensors = {k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for k, v in start.items()}
    cls = reference_class(torch, class_name)
    opt = cls(list(tensors.values()), **({"foreach": False} if cls.__module__.startswith("torch")
                                         and class_name not in ("Muon", "Muon_float64") else {}), **kwargs)
    original = muon_module._zeropower_via_newtonschulz
    if class_name == "Muon_float64":
        muon_module._zeropower_via_newtonschulz = newton_schulz_float64(torch)
    if class_name in SCHEDULE_FREE:
        opt.train()
    schedule = lr_schedule(kwargs, opt.defaults, FRONTIER_STEPS)
    extra = {f"ax_{k}": [] for k in start} if class_name == "ASGD" else {}

    def keep_ax(k, p):
        extra[f"ax_{k}"].append(opt.state[p]["ax"].numpy().copy())

    try:
        traj = drive(torch, opt, tensors, start, problem, data, schedule, FRONTIER_STEPS,
                     kwargs.get("maximize", False), keep_ax if class_name == "ASGD" else None)
    finally:
        muon_module._zeropower_via_newtonschulz = original
    if class_name in SCHEDULE_FREE:
        opt.eval()
        extra = {f"eval_{k}": p.detach().numpy().copy() for k, p in tensors.items()}
    traj = {k: np.array(v) for k, v in traj.items()}
    _check_bounded(traj, class_name, kwargs, problem)
    return traj, schedule, {k: np.array(v) for k, v in extra.items()}


def record_lbfgs_run(torch, kwargs, problem, calls, data):
    """({name: parameters before each call and after the last}, [loss returned by each call], [n_iter, func_evals])."""
    _, start = PROBLEMS[problem]
    tensors = {k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for k, v in start.items()}
    opt = torch.optim.LBFGS(list(tensors.values()), **kwargs)
    f = closure(problem, data)

    def torch_closure():
        current = {k: p.detach().numpy().copy() for k, p in tensors.items()}
        loss, grads = f(current)
        for k, p in tensors.items():
            p.grad = torch.from_numpy(grads[k].copy())
        return torch.tensor(loss, dtype=torch.float64)

    traj = {k: [v.copy()] for k, v in start.items()}
    losses, counts = [], []
    for _ in range(calls):
        losses.append(float(opt.step(torch_closure)))
        for k, p in tensors.items():
            traj[k].append(p.detach().numpy().copy())
        state = opt.state[opt._params[0]]
        counts.append([state["n_iter"], state["func_evals"]])
    traj = {k: np.array(v) for k, v in traj.items()}
    _check_bounded(traj, "LBFGS", kwargs, problem)
    return traj, np.array(losses), np.array(counts)


def _check_bounded(traj, class_name, kwargs, problem):
    for k, v in traj.items():
        if not np.isfinite(v).all() or np.abs(v).max() > 1e3:
            raise RuntimeError(f"run {class_name}{kwargs} on {problem} diverged ({k})")


def reference_defaults(torch):
    """{class: {argument: default}} of the references of the lesson-11 optimizers."""
    import inspect
    out = {}
    for name, supported in FRONTIER_SUPPORTED.items():
        signature = inspect.signature(reference_class(torch, name).__init__)
        out[name] = {arg: _jsonable(signature.parameters[arg].default) for arg in supported}
    return out


def record_frontier(torch):
    import importlib.metadata
    data = {**make_data(), **make_matrix_data()}
    arrays = dict(data)
    runs = []
    for i, (class_name, kwargs, problem) in enumerate(FRONTIER_RUNS):
        traj, schedule, extra = record_frontier_run(torch, class_name, kwargs, problem, data)
        key = f"run{i:02d}"
        for k, v in traj.items():
            arrays[f"{key}_{k}"] = v
        for k, v in extra.items():
            arrays[f"{key}_{k}"] = v
        runs.append({"key": key, "class": class_name, "kwargs": kwargs, "problem": problem,
                     "params": list(traj), "extra": list(extra), "lr_schedule": schedule, "steps": FRONTIER_STEPS})
    lbfgs = []
    for i, (kwargs, problem, calls) in enumerate(LBFGS_RUNS):
        traj, losses, counts = record_lbfgs_run(torch, kwargs, problem, calls, data)
        key = f"lbfgs{i:02d}"
        for k, v in traj.items():
            arrays[f"{key}_{k}"] = v
        arrays[f"{key}_losses"] = losses
        arrays[f"{key}_counts"] = counts
        lbfgs.append({"key": key, "kwargs": kwargs, "problem": problem, "params": list(traj), "calls": calls})
    versions = {name: importlib.metadata.version(name) for name in ("torch", "lion-pytorch", "schedulefree")}
    meta = {"versions": versions, "dtype": "float64", "runs": runs, "lbfgs": lbfgs,
            "defaults": reference_defaults(torch)}
    _save(OUT.parent / "frontier_references.npz", arrays, meta, f"{len(runs)} runs and {len(lbfgs)} LBFGS runs")


def lr_schedule(kwargs, defaults, steps=STEPS):
    """[(steps done, lr to use from then on)]: the lr, halved after steps // 2 steps."""
    lr = kwargs.get("lr", defaults["lr"])
    return [(0, lr), (steps // 2, lr / 2)]


def torch_defaults(torch):
    """{class: {argument: default}} from each constructor's signature, JSON-friendly."""
    import inspect
    out = {}
    for name in CLASS_NAMES:
        signature = inspect.signature(getattr(torch.optim, name).__init__)
        out[name] = {arg: _jsonable(signature.parameters[arg].default) for arg in SUPPORTED[name]}
    return out


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def record_run(torch, class_name, kwargs, problem, data):
    """Run torch; return ({name: trajectory (STEPS + 1, *shape)}, lr schedule)."""
    _, start = PROBLEMS[problem]
    tensors = {k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for k, v in start.items()}
    opt = getattr(torch.optim, class_name)(list(tensors.values()), foreach=False, **kwargs)
    schedule = lr_schedule(kwargs, opt.defaults)
    traj = drive(torch, opt, tensors, start, problem, data, schedule, STEPS, kwargs.get("maximize", False))
    traj = {k: np.array(v) for k, v in traj.items()}
    _check_bounded(traj, class_name, kwargs, problem)
    return traj, schedule


# ---------------------------------------------------------------------------
# Schedules: (optlessons name, optlessons keyword arguments, number of values).
# Value t is the group lr before the (t + 1)-th optimizer.step().
# ---------------------------------------------------------------------------

SCHEDULE_RUNS = [
    ("step_decay", {"lr": 0.1, "step_size": 7, "gamma": 0.5}, 30),
    ("exponential", {"lr": 0.3, "gamma": 0.95}, 40),
    ("cosine", {"lr": 0.1, "total_steps": 30, "lr_min": 1e-3}, 31),
    ("linear", {"lr": 0.1}, 10),
    ("linear", {"lr": 0.5, "start_factor": 0.25, "end_factor": 1.0, "total_steps": 20}, 30),
    ("linear", {"lr": 0.2, "start_factor": 1.0, "end_factor": 0.0, "total_steps": 40}, 50),
    ("linear", {"lr": 1.0, "start_factor": 0.5, "end_factor": 0.1, "total_steps": 7}, 12),
    ("one_cycle", {"max_lr": 0.1, "total_steps": 100}, 101),
    ("one_cycle", {"max_lr": 1.0, "total_steps": 50, "pct_start": 0.25, "anneal_strategy": "linear"}, 51),
    ("one_cycle", {"max_lr": 0.5, "total_steps": 80, "three_phase": True}, 81),
    ("one_cycle", {"max_lr": 0.3, "total_steps": 37, "pct_start": 0.4, "div_factor": 10.0,
                   "final_div_factor": 100.0, "three_phase": True, "anneal_strategy": "linear"}, 38),
    ("cosine_warm_restarts", {"lr": 0.1, "T_0": 10}, 35),
    ("cosine_warm_restarts", {"lr": 0.1, "T_0": 3, "T_mult": 2, "lr_min": 0.01}, 60),
    ("cosine_warm_restarts", {"lr": 1.0, "T_0": 1, "T_mult": 3}, 50),
    ("cosine_warm_restarts", {"lr": 0.05, "T_0": 7, "lr_min": 1e-3}, 30),
    ("sequential", {"schedules": [("linear", {"lr": 0.1, "start_factor": 0.1, "end_factor": 1.0, "total_steps": 5}),
                                  ("cosine", {"lr": 0.1, "total_steps": 20})],
                    "milestones": [5]}, 26),
    ("sequential", {"schedules": [("linear", {"lr": 0.1, "start_factor": 0.1, "end_factor": 1.0, "total_steps": 10}),
                                  ("cosine", {"lr": 0.1, "total_steps": 20, "lr_min": 0.01})],
                    "milestones": [5]}, 26),          # the warm-up cut short by its milestone
    ("sequential", {"schedules": [("linear", {"lr": 0.2}),
                                  ("exponential", {"lr": 0.2, "gamma": 0.9}),
                                  ("step_decay", {"lr": 0.2, "step_size": 3, "gamma": 0.5})],
                    "milestones": [4, 12]}, 25),
    ("sequential", {"schedules": [("cosine_warm_restarts", {"lr": 0.2, "T_0": 4, "T_mult": 2}),
                                  ("linear", {"lr": 0.2, "start_factor": 1.0, "end_factor": 0.0, "total_steps": 10})],
                    "milestones": [12]}, 25),
    ("sequential", {"schedules": [("linear", {"lr": 0.1, "start_factor": 0.01, "total_steps": 3}),
                                  ("one_cycle", {"max_lr": 0.1, "total_steps": 20, "div_factor": 5.0})],
                    "milestones": [3]}, 24),
    ("sequential", {"schedules": [("linear", {"lr": 0.1, "start_factor": 0.5, "total_steps": 4}),
                                  ("exponential", {"lr": 0.1, "gamma": 0.8})],
                    "milestones": [0]}, 10),            # milestone 0: the first scheduler is never used
    # added for lesson 11
    ("polynomial", {"lr": 0.1, "total_steps": 20, "power": 1.0}, 25),
    ("polynomial", {"lr": 0.5, "total_steps": 30, "power": 2.5}, 35),
    ("polynomial", {"lr": 0.2}, 8),
    ("multistep", {"lr": 0.1, "milestones": [5, 12, 20], "gamma": 0.5}, 25),
    ("multistep", {"lr": 1.0, "milestones": [3, 3, 10]}, 15),         # a repeated milestone counts twice
    ("constant", {"lr": 0.1, "factor": 1 / 3, "total_steps": 5}, 10),
    ("constant", {"lr": 0.4, "factor": 0.25, "total_steps": 12}, 20),
    ("constant", {"lr": 0.2, "factor": 0.1, "total_steps": 1}, 5),
    ("cyclic", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5}, 40),
    ("cyclic", {"base_lr": 0.001, "max_lr": 0.1, "step_size_up": 4, "step_size_down": 7, "mode": "triangular2"}, 60),
    ("cyclic", {"base_lr": 0.01, "max_lr": 0.5, "step_size_up": 6, "mode": "exp_range", "gamma": 0.97}, 50),
    ("cyclic", {"base_lr": 0.1, "max_lr": 0.2, "step_size_up": 1, "step_size_down": 3}, 20),
    ("sequential", {"schedules": [("constant", {"lr": 0.1, "factor": 0.5, "total_steps": 3}),
                                  ("polynomial", {"lr": 0.1, "total_steps": 10, "power": 2.0})],
                    "milestones": [6]}, 20),
]

# ReduceLROnPlateau: (keyword arguments, metric sequence name).
PLATEAU_RUNS = [
    ({"lr": 0.1}, "loss"),
    ({"lr": 0.1, "patience": 2, "factor": 0.5, "cooldown": 3}, "loss"),
    ({"lr": 0.1, "threshold_mode": "abs", "threshold": 0.05, "patience": 3}, "loss"),
    ({"lr": 1e-3, "factor": 0.5, "patience": 0, "min_lr": 4e-4, "eps": 1e-4}, "loss"),
    ({"lr": 0.2, "patience": 1, "threshold": 0.0, "cooldown": 1, "factor": 0.7}, "loss_with_nan"),
    ({"lr": 1.0, "mode": "max", "patience": 1, "threshold": 0.01, "threshold_mode": "abs", "min_lr": 0.05,
      "factor": 0.3}, "accuracy"),
    ({"lr": 0.1, "mode": "max", "threshold": 0.1, "patience": 0, "cooldown": 2}, "accuracy"),
    ({"lr": 0.1, "mode": "max", "patience": 2}, "negative_score"),
    ({"lr": 0.1, "patience": 2}, "negative_score"),
]


def make_metrics():
    """Metric sequences with plateaus, a little noise, a spike and (one of them) a NaN."""
    rng = np.random.default_rng(20261129)
    n = 80
    t = np.arange(n)
    steps = np.floor(t / 15)                                    # improves in bursts: plateaus of 15 epochs
    loss = 1.0 / (1 + steps) + 0.02 * rng.normal(size=n) * np.exp(-t / 40)
    loss[33] += 0.5                                             # a spike
    with_nan = loss.copy()
    with_nan[20] = np.nan
    accuracy = 0.5 + 0.4 * (1 - np.exp(-steps / 2)) + 0.005 * rng.normal(size=n)
    negative = -loss                                            # a score below zero
    return {"loss": loss, "loss_with_nan": with_nan, "accuracy": accuracy, "negative_score": negative}


def torch_scheduler(torch, optimizer, name, kwargs):
    """The torch scheduler equal to optlessons.schedules.<name>(**kwargs)."""
    S = torch.optim.lr_scheduler
    k = {key: value for key, value in kwargs.items() if key not in ("lr", "max_lr") or name == "cyclic"}
    if name == "step_decay":
        return S.StepLR(optimizer, **k)
    if name == "exponential":
        return S.ExponentialLR(optimizer, **k)
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=k["total_steps"], eta_min=k.get("lr_min", 0.0))
    if name == "linear":
        return S.LinearLR(optimizer, start_factor=k.get("start_factor", 1 / 3), end_factor=k.get("end_factor", 1.0),
                          total_iters=k.get("total_steps", 5))
    if name == "one_cycle":
        return S.OneCycleLR(optimizer, max_lr=kwargs["max_lr"], cycle_momentum=False, **k)
    if name == "cosine_warm_restarts":
        return S.CosineAnnealingWarmRestarts(optimizer, T_0=k["T_0"], T_mult=k.get("T_mult", 1),
                                             eta_min=k.get("lr_min", 0.0))
    if name == "sequential":
        inner = [torch_scheduler(torch, optimizer, n, kw) for n, kw in k["schedules"]]
        return S.SequentialLR(optimizer, inner, milestones=k["milestones"])
    if name == "polynomial":
        return S.PolynomialLR(optimizer, total_iters=k.get("total_steps", 5), power=k.get("power", 1.0))
    if name == "multistep":
        return S.MultiStepLR(optimizer, milestones=k["milestones"], gamma=k.get("gamma", 0.1))
    if name == "constant":
        return S.ConstantLR(optimizer, factor=k.get("factor", 1.0), total_iters=k.get("total_steps", 0))
    if name == "cyclic":
        return S.CyclicLR(optimizer, base_lr=k["base_lr"], max_lr=k["max_lr"], step_size_up=k["step_size_up"],
                          step_size_down=k.get("step_size_down"), mode=k.get("mode", "triangular"),
                          gamma=k.get("gamma", 1.0), cycle_momentum=False)
    raise ValueError(name)


def base_lr(name, kwargs):
    if name == "sequential":
        lrs = {base_lr(n, kw) for n, kw in kwargs["schedules"]}
        assert len(lrs) == 1, "torch's chained schedulers all start from the optimizer's lr"
        return lrs.pop()
    return kwargs[{"one_cycle": "max_lr", "cyclic": "base_lr"}.get(name, "lr")]


def record_schedule(torch, name, kwargs, n):
    """The group lr before each of n optimizer steps, scheduler.step() after each."""
    import warnings
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=base_lr(name, kwargs))
    scheduler = torch_scheduler(torch, opt, name, kwargs)
    lrs = []
    for t in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1, dtype=torch.float64)
        opt.step()
        if t < n - 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scheduler.step()
    return np.array(lrs, dtype=np.float64)


def record_plateau(torch, kwargs, metric):
    """[lr before any step, lr after step 1, …]: ReduceLROnPlateau fed `metric` once per epoch."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=kwargs["lr"])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **{k: v for k, v in kwargs.items() if k != "lr"})
    lrs = [opt.param_groups[0]["lr"]]
    for value in metric:
        scheduler.step(float(value))
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs, dtype=np.float64)


# ---------------------------------------------------------------------------
# Gradient clipping and the moving average of the weights.
# ---------------------------------------------------------------------------

CLIP_SHAPES = {"w1": (3, 4), "b1": (4,), "w2": (2, 2, 2)}
# (case name, gradient set, max_norm, norm_type); "array" is a single array, "dict" the three above.
CLIP_RUNS = [
    ("array_above", "array", 1.0, 2.0),
    ("array_below", "array", 100.0, 2.0),
    ("dict_above", "dict", 1.0, 2.0),
    ("dict_below", "dict", 50.0, 2.0),
    ("dict_l1_above", "dict", 2.0, 1.0),
    ("dict_l1_below", "dict", 500.0, 1.0),
    ("dict_inf_above", "dict", 0.5, "inf"),
    ("dict_inf_below", "dict", 50.0, "inf"),
    ("dict_p3", "dict", 1.5, 3.0),
    ("dict_p_half", "dict", 30.0, 0.5),
    ("dict_zero_max", "dict", 0.0, 2.0),
    ("array_inf", "array", 0.1, "inf"),
]
EMA_DECAYS = [0.9, 0.999, 0.5, 0.3]
EMA_STEPS = 60


def make_clip_ema_data():
    rng = np.random.default_rng(20261130)
    out = {"clip_array": 3.0 * rng.normal(size=(5, 3))}
    for name, shape in CLIP_SHAPES.items():
        out[f"clip_dict_{name}"] = 2.0 * rng.normal(size=shape)
    # A random walk of the weights of a tiny model (w (3, 2), b (2,)), as training would produce.
    out["ema_w"] = np.cumsum(0.1 * rng.normal(size=(EMA_STEPS, 3, 2)), axis=0) + rng.normal(size=(3, 2))
    out["ema_b"] = np.cumsum(0.1 * rng.normal(size=(EMA_STEPS, 2)), axis=0)
    return out


def clip_inputs(kind, data):
    if kind == "array":
        return {"array": data["clip_array"]}
    return {name: data[f"clip_dict_{name}"] for name in CLIP_SHAPES}


def record_clip(torch, kind, max_norm, norm_type, data):
    """(total_norm, {name: clipped gradient}) from torch.nn.utils.clip_grad_norm_."""
    grads = clip_inputs(kind, data)
    params = {}
    for name, g in grads.items():
        params[name] = torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64))
        params[name].grad = torch.tensor(g, dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm, norm_type=norm_type, foreach=False)
    return float(total), {name: p.grad.numpy().copy() for name, p in params.items()}


def record_ema(torch, decay, data):
    """AveragedModel(get_ema_multi_avg_fn(decay)) after each of the recorded weights: (steps, ...) per name."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    module = torch.nn.Linear(3, 2).double()
    averaged = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(decay))
    out = {"w": [], "b": []}
    for t in range(EMA_STEPS):
        with torch.no_grad():
            module.weight.copy_(torch.tensor(data["ema_w"][t].T))
            module.bias.copy_(torch.tensor(data["ema_b"][t]))
        averaged.update_parameters(module)
        out["w"].append(averaged.module.weight.detach().numpy().T.copy())
        out["b"].append(averaged.module.bias.detach().numpy().copy())
    return {k: np.array(v) for k, v in out.items()}


def main(parts=("optimizers", "frontier", "schedules", "clip_ema")):
    """Record the given parts (all by default): `python scripts/record_torch_references.py frontier schedules`."""
    import torch
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    recorders = {"optimizers": record_optimizers, "frontier": record_frontier, "schedules": record_schedules,
                 "clip_ema": record_clip_ema}
    for part in parts:
        recorders[part](torch)


def record_schedules(torch):
    arrays = {}
    runs = []
    for i, (name, kwargs, n) in enumerate(SCHEDULE_RUNS):
        key = f"schedule{i:02d}"
        arrays[key] = record_schedule(torch, name, kwargs, n)
        runs.append({"key": key, "name": name, "kwargs": kwargs})
    metrics = make_metrics()
    arrays.update({f"metric_{k}": v for k, v in metrics.items()})
    plateau_runs = []
    for i, (kwargs, metric) in enumerate(PLATEAU_RUNS):
        key = f"plateau{i:02d}"
        arrays[key] = record_plateau(torch, kwargs, metrics[metric])
        plateau_runs.append({"key": key, "kwargs": kwargs, "metric": metric})
    meta = {"torch_version": torch.__version__, "dtype": "float64", "schedules": runs, "plateaus": plateau_runs}
    _save(OUT.parent / "torch_schedules.npz", arrays, meta, f"{len(runs)} schedules, {len(plateau_runs)} plateau runs")


def record_clip_ema(torch):
    data = make_clip_ema_data()
    arrays = dict(data)
    clips = []
    for name, kind, max_norm, norm_type in CLIP_RUNS:
        total, clipped = record_clip(torch, kind, max_norm, norm_type, data)
        for k, v in clipped.items():
            arrays[f"clipped_{name}_{k}"] = v
        clips.append({"name": name, "kind": kind, "max_norm": max_norm, "norm_type": norm_type,
                      "total_norm": total, "keys": list(clipped)})
    emas = []
    for i, decay in enumerate(EMA_DECAYS):
        for k, v in record_ema(torch, decay, data).items():
            arrays[f"ema{i}_{k}"] = v
        emas.append({"key": f"ema{i}", "decay": decay})
    meta = {"torch_version": torch.__version__, "dtype": "float64", "clip": clips, "ema": emas,
            "ema_steps": EMA_STEPS}
    _save(OUT.parent / "torch_clip_ema.npz", arrays, meta, f"{len(clips)} clips, {len(emas)} averages")


def _save(path, arrays, meta, what):
    arrays["meta"] = np.array(json.dumps(meta, default=_jsonable))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"wrote {what} to {path} ({path.stat().st_size // 1024} KB)")


def record_optimizers(torch):
    data = make_data()
    arrays = dict(data)
    runs = []
    for i, (class_name, kwargs, problem) in enumerate(RUNS):
        traj, schedule = record_run(torch, class_name, kwargs, problem, data)
        for k, v in traj.items():
            arrays[f"run{i:02d}_{k}"] = v
        runs.append({"key": f"run{i:02d}", "class": class_name, "kwargs": kwargs, "problem": problem,
                     "params": list(traj), "lr_schedule": schedule, "steps": STEPS})
    meta = {"torch_version": torch.__version__, "numpy_version": np.__version__,
            "dtype": "float64", "runs": runs, "defaults": torch_defaults(torch)}
    arrays["meta"] = np.array(json.dumps(meta, default=_jsonable))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {len(runs)} runs of {STEPS} steps to {OUT} ({OUT.stat().st_size // 1024} KB), "
          f"torch {torch.__version__}")


if __name__ == "__main__":
    import sys
    main(*([sys.argv[1:]] if sys.argv[1:] else []))
