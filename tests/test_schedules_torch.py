"""optlessons.schedules against torch.optim.lr_scheduler: learning rates recorded by
scripts/record_torch_references.py (torch is not needed here) are compared value by value.

Value t of a recorded schedule is the param group's lr before the (t + 1)-th
``optimizer.step()``, with ``scheduler.step()`` after each optimizer step."""

import json
import pathlib

import numpy as np
import pytest

from optlessons import schedules

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORDED = np.load(ROOT / "tests" / "data" / "torch_schedules.npz")
META = json.loads(str(RECORDED["meta"]))
RTOL = 1e-10


def build(name, kwargs):
    """The optlessons schedule for a recorded (name, kwargs); sequential builds its parts first."""
    if name == "sequential":
        parts = [build(n, kw) for n, kw in kwargs["schedules"]]
        return schedules.sequential(parts, kwargs["milestones"])
    return schedules.get(name, **kwargs)


def torch_equivalent(name, kwargs):
    """`kwargs`, changed where torch's SequentialLR does not do what its parts say.

    The one quirk the records show: constructing a OneCycleLR overwrites the
    optimizer's ``initial_lr`` with max_lr / div_factor, SequentialLR resets
    the lr to that ``initial_lr``, and so the *first* scheduler of the chain
    runs from OneCycleLR's starting lr instead of the optimizer's."""
    if name != "sequential":
        return kwargs
    parts = [list(part) for part in kwargs["schedules"]]
    for part_name, part_kwargs in parts[1:]:
        if part_name == "one_cycle":
            parts[0][1] = {**parts[0][1], "lr": part_kwargs["max_lr"] / part_kwargs.get("div_factor", 25.0)}
    return {**kwargs, "schedules": parts}


def _id(run):
    return f"{run['key']}-{run['name']}"


def test_records_cover_every_new_schedule_and_option():
    names = {run["name"] for run in META["schedules"]}
    assert {"linear", "one_cycle", "cosine_warm_restarts", "sequential", "cosine", "step_decay",
            "exponential"} <= names
    options = {(run["name"], k, json.dumps(v)) for run in META["schedules"] for k, v in run["kwargs"].items()}
    for wanted in [("one_cycle", "three_phase", "true"), ("one_cycle", "anneal_strategy", '"linear"'),
                   ("cosine_warm_restarts", "T_mult", "2"), ("linear", "end_factor", "0.0")]:
        assert wanted in options, wanted
    plateaus = [run["kwargs"] for run in META["plateaus"]]
    assert {p.get("mode", "min") for p in plateaus} == {"min", "max"}
    assert {p.get("threshold_mode", "rel") for p in plateaus} == {"rel", "abs"}
    assert any(p.get("cooldown", 0) > 0 for p in plateaus) and any(p.get("min_lr", 0) > 0 for p in plateaus)
    assert META["torch_version"].startswith("2.13.0") and META["dtype"] == "float64"


@pytest.mark.parametrize("run", META["schedules"], ids=_id)
def test_schedule_equals_torch(run):
    expected = RECORDED[run["key"]]
    schedule = build(run["name"], torch_equivalent(run["name"], run["kwargs"]))
    t = np.arange(len(expected))
    np.testing.assert_allclose(schedule(t), expected, rtol=RTOL, atol=1e-15,
                               err_msg=f"{schedule!r} against torch")
    for step in (0, len(expected) // 2, len(expected) - 1):       # the scalar form too
        assert schedule(step) == pytest.approx(expected[step], rel=RTOL, abs=1e-15)


@pytest.mark.parametrize("run", META["plateaus"], ids=lambda run: f"{run['key']}-{run['metric']}")
def test_reduce_lr_on_plateau_equals_torch(run):
    expected = RECORDED[run["key"]]
    plateau = schedules.ReduceLROnPlateau(**run["kwargs"])
    lrs = [plateau.lr] + [plateau.step(metric) for metric in RECORDED[f"metric_{run['metric']}"]]
    np.testing.assert_allclose(lrs, expected, rtol=RTOL, atol=0)
    assert plateau.last_epoch == len(expected) - 1
    # Not a vacuous record: torch lowered the lr at least once in each run.
    assert expected[-1] < expected[0]


def test_the_one_cycle_quirk_of_sequential_is_in_the_records():
    """A warm-up chained before a OneCycleLR starts from max_lr / div_factor in torch, not from its lr."""
    run = next(r for r in META["schedules"] if r["name"] == "sequential"
               and any(part[0] == "one_cycle" for part in r["kwargs"]["schedules"]))
    (_, warmup), (_, cycle) = run["kwargs"]["schedules"]
    assert warmup["lr"] == cycle["max_lr"]
    assert RECORDED[run["key"]][0] == pytest.approx(warmup["lr"] / cycle["div_factor"] * warmup["start_factor"])
    assert build(run["name"], run["kwargs"])(0) == pytest.approx(warmup["lr"] * warmup["start_factor"])


def test_one_cycle_past_its_total_steps_raises_as_torch_does():
    run = next(r for r in META["schedules"] if r["name"] == "one_cycle")
    schedule = build(run["name"], run["kwargs"])
    total = run["kwargs"]["total_steps"]
    schedule(total)                                     # torch computes this one (the lr after the last step)
    with pytest.raises(ValueError, match="Tried to step"):
        schedule(total + 1)


def test_every_schedule_with_a_torch_twin_is_recorded():
    recorded = {run["name"] for run in META["schedules"]}
    assert recorded == set(schedules.REGISTRY) - {"inverse_time", "warmup", "warmup_cosine", "wsd"}, \
        "inverse_time, warmup (linear + sequential), warmup_cosine and wsd have no torch class of their own"
