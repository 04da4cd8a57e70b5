"""The optimizers of lesson 11 against their references: torch 2.13's Rprop, ASGD,
Adafactor, Muon and LBFGS, lion-pytorch 0.2.5's Lion, schedulefree 1.4.1's
SGDScheduleFree and AdamWScheduleFree. Runs recorded by
scripts/record_torch_references.py (none of those packages is needed here) are
replayed whole and teacher-forced (each step from the reference's own point), at
1e-10, except Muon against torch's bfloat16 Newton–Schulz (see MUON_BFLOAT16)."""

import importlib.util
import json
import pathlib

import numpy as np
import pytest

from optlessons import optim

ROOT = pathlib.Path(__file__).resolve().parent.parent
PATH = ROOT / "tests" / "data" / "frontier_references.npz"
REFERENCES = np.load(PATH)
META = json.loads(str(REFERENCES["meta"]))
DATA = {k: REFERENCES[k] for k in ("quadratic_A", "tanh_regression_X", "tanh_regression_Y", "matrix_X", "matrix_Y")}

_spec = importlib.util.spec_from_file_location("record_torch_references",
                                               ROOT / "scripts" / "record_torch_references.py")
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)          # numpy only: torch is imported by its main()

TOLERANCE = 1e-10
# torch's Muon runs Newton–Schulz in bfloat16 (8 significant bits), optlessons in float64.
# Measured on the three recorded runs (teacher-forced, ‖ours − torch‖ / ‖torch's step‖,
# Frobenius norms): median 1.5–1.6 % of a step, at most 6.2 %; whole runs of 120 steps end
# within 0.2 % of θ of torch's. The float64 runs ("Muon_float64", torch with its
# Newton–Schulz patched to float64) match at 1e-10 like every other optimizer.
MUON_STEP_MEDIAN, MUON_STEP_MAX, MUON_RUN = 0.025, 0.1, 0.005

RUNS = [run for run in META["runs"] if run["class"] != "Muon"]
MUON_BF16 = [run for run in META["runs"] if run["class"] == "Muon"]


def _tuples(kwargs):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def _make(run):
    return getattr(optim, run["class"].removesuffix("_float64"))(**_tuples(run["kwargs"]))


def _run_id(run):
    options = ",".join(f"{k}={v}" for k, v in run["kwargs"].items()) or "defaults"
    return f"{run['key']}-{run['class']}({options})-{run['problem']}"


def _trajectories(run):
    return {name: REFERENCES[f"{run['key']}_{name}"] for name in run["params"]}


def _relative(ours, theirs):
    return np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))


def test_references_cover_every_class_and_option():
    used = {}
    for run in META["runs"]:
        used.setdefault(run["class"].removesuffix("_float64"), set()).update(run["kwargs"])
    for run in META["lbfgs"]:
        used.setdefault("LBFGS", set()).update(run["kwargs"])
    assert set(used) == set(recorder.FRONTIER_SUPPORTED) == set(META["defaults"])
    for class_name, supported in recorder.FRONTIER_SUPPORTED.items():
        assert set(supported) <= used[class_name], f"{class_name}: no reference run uses {set(supported) - used[class_name]}"
    assert META["versions"] == {"torch": META["versions"]["torch"], "lion-pytorch": "0.2.5", "schedulefree": "1.4.1"}
    assert META["versions"]["torch"].startswith("2.13.0")


@pytest.mark.parametrize("class_name", sorted(META["defaults"]))
def test_defaults_equal_the_reference(class_name):
    ours = {k: list(v) if isinstance(v, tuple) else v for k, v in getattr(optim, class_name)().defaults.items()}
    theirs = dict(META["defaults"][class_name])
    if class_name == "LBFGS":
        theirs["max_eval"] = theirs["max_iter"] * 5 // 4          # torch's None means this
    assert ours == theirs


def _replay(run, teacher_forced):
    """Step through the run; yields (step, {name: ours}, {name: reference}, optimizer)."""
    maximize = run["kwargs"].get("maximize", False)
    trajectories = _trajectories(run)
    opt = _make(run)
    schedule = dict(run["lr_schedule"])
    params = {name: traj[0] for name, traj in trajectories.items()}
    for t in range(run["steps"]):
        if t in schedule:
            opt.lr = schedule[t]
        if teacher_forced:
            params = {name: traj[t] for name, traj in trajectories.items()}
        params = opt.step(params, recorder.gradient(run["problem"], params, DATA, maximize))
        yield t, params, {name: traj[t + 1] for name, traj in trajectories.items()}, opt


@pytest.mark.parametrize("teacher_forced", [False, True], ids=["whole-run", "teacher-forced"])
@pytest.mark.parametrize("run", RUNS, ids=_run_id)
def test_steps_match_the_reference(run, teacher_forced):
    for t, ours, theirs, opt in _replay(run, teacher_forced):
        for name in ours:
            error = _relative(ours[name], theirs[name])
            assert error <= TOLERANCE, (f"step {t + 1}, {name!r}: relative error {error:.3g}\n"
                                        f"optlessons {ours[name]}\nreference  {theirs[name]}")
            if run["class"] == "ASGD" and not teacher_forced:
                expected = REFERENCES[f"{run['key']}_ax_{name}"][t]
                assert _relative(opt.averaged(ours)[name], expected) <= TOLERANCE, f"ax at step {t + 1}"
    if run["class"].startswith("ScheduleFree") and not teacher_forced:
        x = opt.eval_point(ours)
        for name in ours:
            assert _relative(x[name], REFERENCES[f"{run['key']}_eval_{name}"]) <= TOLERANCE


def muon_step_differences(run):
    """Teacher-forced: ‖ours − torch‖ / ‖torch's step‖ for every step and matrix."""
    trajectories = _trajectories(run)
    out = []
    for t, ours, theirs, _ in _replay(run, teacher_forced=True):
        for name, traj in trajectories.items():
            out.append(np.linalg.norm(ours[name] - theirs[name]) / np.linalg.norm(theirs[name] - traj[t]))
    return np.array(out)


@pytest.mark.parametrize("run", MUON_BF16, ids=_run_id)
def test_muon_is_within_bfloat16_of_torchs_steps(run):
    differences = muon_step_differences(run)
    assert 1e-3 < np.median(differences) <= MUON_STEP_MEDIAN      # bfloat16's rounding: never exact
    assert differences.max() <= MUON_STEP_MAX
    *_, (_, ours, theirs, _) = _replay(run, teacher_forced=False)
    for name in ours:
        assert _relative(ours[name], theirs[name]) <= MUON_RUN


def _lbfgs_id(run):
    options = ",".join(f"{k}={v}" for k, v in run["kwargs"].items()) or "defaults"
    return f"{run['key']}-LBFGS({options})-{run['problem']}"


@pytest.mark.parametrize("teacher_forced", [False, True], ids=["whole-run", "teacher-forced"])
@pytest.mark.parametrize("run", META["lbfgs"], ids=_lbfgs_id)
def test_lbfgs_calls_match_torch(run, teacher_forced):
    """Within 1e-10 of the scale of the run (the largest |θ₀| entry, the first loss): the runs
    converge, so an error relative to θ itself would divide by numbers near 0."""
    trajectories = _trajectories(run)
    losses, counts = REFERENCES[f"{run['key']}_losses"], REFERENCES[f"{run['key']}_counts"]
    opt = optim.LBFGS(**run["kwargs"])
    closure = recorder.closure(run["problem"], DATA)
    params = {name: traj[0] for name, traj in trajectories.items()}
    for call in range(run["calls"]):
        if teacher_forced:
            params = {name: traj[call] for name, traj in trajectories.items()}
        params = opt.step(params, closure)
        for name, traj in trajectories.items():
            error = np.max(np.abs(params[name] - traj[call + 1])) / np.max(np.abs(traj[0]))
            assert error <= TOLERANCE, f"call {call + 1}, {name!r}: error {error:.3g} of the start's scale"
        assert abs(opt.loss - losses[call]) <= TOLERANCE * abs(losses[0])
        assert [opt.state.n_iter, opt.state.func_evals] == list(counts[call])


def test_reference_file_is_small():
    assert PATH.stat().st_size < 400_000
