"""Record torch.optim trajectories that tests/test_optim.py replays with optlessons.optim.

Run it with a Python that has torch (not a dependency of optlessons), e.g.

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy        # the CPU wheel
    /tmp/torchvenv/bin/python scripts/record_torch_references.py

It writes tests/data/torch_references.npz. Every run is float64: a torch
optimizer takes STEPS steps on a problem whose gradient depends on the
parameters; the gradient is computed here in numpy from the current parameter
values (the functions below, which the test imports, so it replays the very
same gradient), and the learning rate is halved after STEPS // 2 steps through
`param_groups`. The runs are chosen out of chaotic regimes (no oscillating
large steps), so rounding differences of 1e-16 stay near 1e-14 over all the
steps instead of being amplified past the test's 1e-10. The file also holds each run's configuration, torch's version
and torch's defaults for every class, as JSON strings.

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


PROBLEMS = {
    "rosenbrock": (rosenbrock_grad, {"xy": np.array([-1.2, 1.0])}),
    "quadratic": (quadratic_grad, {"x": np.array([1.0, -2.0, 0.5, 3.0, -1.0])}),
    "tanh_regression": (tanh_regression_grad, {"w": np.array([[0.5, -0.3], [0.2, 0.8]]),
                                               "b": np.array([0.1, -0.2])}),
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
]

CLASS_NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"]
# The hyperparameters optlessons supports, whose torch defaults the test compares.
SUPPORTED = {
    "SGD": ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"],
    "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"],
    "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"],
    "Adadelta": ["lr", "rho", "eps", "weight_decay", "maximize"],
    "Adam": ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"],
    "AdamW": ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"],
}


def lr_schedule(kwargs, defaults):
    """[(steps done, lr to use from then on)]: the lr, halved after STEPS // 2 steps."""
    lr = kwargs.get("lr", defaults["lr"])
    return [(0, lr), (STEPS // 2, lr / 2)]


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
    maximize = kwargs.get("maximize", False)
    traj = {k: [v.copy()] for k, v in start.items()}
    for t in range(STEPS):
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
    traj = {k: np.array(v) for k, v in traj.items()}
    for k, v in traj.items():
        if not np.isfinite(v).all() or np.abs(v).max() > 1e3:
            raise RuntimeError(f"run {class_name}{kwargs} on {problem} diverged ({k})")
    return traj, schedule


def main():
    import torch
    torch.set_num_threads(1)
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
    main()
