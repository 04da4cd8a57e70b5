"""optlessons.optim against torch.optim: trajectories recorded by
scripts/record_torch_references.py (torch is not needed here) are replayed step
by step, and the defaults compared with torch's."""

import importlib.util
import json
import pathlib

import numpy as np
import pytest

from optlessons import optim

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCES = np.load(ROOT / "tests" / "data" / "torch_references.npz")
META = json.loads(str(REFERENCES["meta"]))
DATA = {k: REFERENCES[k] for k in ("quadratic_A", "tanh_regression_X", "tanh_regression_Y")}

_spec = importlib.util.spec_from_file_location("record_torch_references",
                                               ROOT / "scripts" / "record_torch_references.py")
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)          # numpy only: torch is imported by its main()

TOLERANCE = 1e-10


def _kwargs(run):
    kwargs = dict(run["kwargs"])
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return kwargs


def _run_id(run):
    options = ",".join(f"{k}={v}" for k, v in run["kwargs"].items()) or "defaults"
    return f"{run['key']}-{run['class']}({options})-{run['problem']}"


def test_references_cover_every_class_and_option():
    used = {}
    for run in META["runs"]:
        used.setdefault(run["class"], set()).update(run["kwargs"])
    assert set(used) == {"SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax"}
    assert set(used) == set(recorder.SUPPORTED) == set(META["defaults"])
    for class_name, supported in recorder.SUPPORTED.items():
        assert set(supported) <= used[class_name], f"{class_name}: no reference run uses {set(supported) - used[class_name]}"
    assert META["torch_version"].startswith("2.13.0")
    assert META["dtype"] == "float64"


@pytest.mark.parametrize("run", META["runs"], ids=_run_id)
def test_trajectory_matches_torch(run):
    """Every step of a few hundred, lr halved midway, within 1e-10 relative error."""
    maximize = run["kwargs"].get("maximize", False)
    trajectories = {name: REFERENCES[f"{run['key']}_{name}"] for name in run["params"]}
    opt = getattr(optim, run["class"])(**_kwargs(run))
    schedule = dict(run["lr_schedule"])
    params = {name: traj[0] for name, traj in trajectories.items()}
    for t in range(run["steps"]):
        if t in schedule:
            opt.lr = schedule[t]
        grads = recorder.gradient(run["problem"], params, DATA, maximize)
        params = opt.step(params, grads)
        for name, traj in trajectories.items():
            expected = traj[t + 1]
            error = np.max(np.abs(params[name] - expected)) / np.max(np.abs(expected))
            assert error <= TOLERANCE, (
                f"step {t + 1}, parameter {name!r}: relative error {error:.3g} > {TOLERANCE}\n"
                f"optlessons {params[name]}\ntorch      {expected}")
    assert opt.lr == run["lr_schedule"][-1][1]


@pytest.mark.parametrize("class_name", sorted(META["defaults"]))
def test_defaults_equal_torch(class_name):
    cls = getattr(optim, class_name)
    ours = {k: list(v) if isinstance(v, tuple) else v for k, v in cls().defaults.items()}
    torchs = META["defaults"][class_name]
    assert set(ours) == set(torchs)
    for name, value in torchs.items():
        assert ours[name] == value, f"{class_name}({name}=...) default: ours {ours[name]!r}, torch {value!r}"


def test_reference_file_is_small():
    # 46 runs of 300 float64 steps: about 450 KB compressed.
    assert (ROOT / "tests" / "data" / "torch_references.npz").stat().st_size < 600_000
