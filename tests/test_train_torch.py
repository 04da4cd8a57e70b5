"""optlessons.train.clip_grad_norm and WeightEMA against torch: recorded by
scripts/record_torch_references.py (torch.nn.utils.clip_grad_norm_ and
torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn); torch is not needed here."""

import importlib.util
import json
import pathlib

import numpy as np
import pytest

from optlessons import train

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORDED = np.load(ROOT / "tests" / "data" / "torch_clip_ema.npz")
META = json.loads(str(RECORDED["meta"]))
RTOL = 1e-12

_spec = importlib.util.spec_from_file_location("record_torch_references",
                                               ROOT / "scripts" / "record_torch_references.py")
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)          # numpy only: torch is imported by its main()


def test_records_cover_norm_types_kinds_and_both_sides_of_the_threshold():
    clips = META["clip"]
    assert {c["norm_type"] for c in clips} >= {2.0, 1.0, "inf"}
    assert {c["kind"] for c in clips} == {"array", "dict"}
    above = [c["total_norm"] > c["max_norm"] for c in clips]
    assert any(above) and not all(above)
    assert META["torch_version"].startswith("2.13.0") and META["dtype"] == "float64"


@pytest.mark.parametrize("case", META["clip"], ids=lambda c: c["name"])
def test_clip_grad_norm_equals_torch(case):
    inputs = recorder.clip_inputs(case["kind"], RECORDED)
    grads = inputs["array"] if case["kind"] == "array" else inputs
    before = {k: v.copy() for k, v in inputs.items()}
    clipped, total_norm = train.clip_grad_norm(grads, case["max_norm"], norm_type=case["norm_type"])
    assert total_norm == pytest.approx(case["total_norm"], rel=RTOL)
    clipped = {"array": clipped} if case["kind"] == "array" else clipped
    assert list(clipped) == case["keys"]
    for k in case["keys"]:
        np.testing.assert_allclose(clipped[k], RECORDED[f"clipped_{case['name']}_{k}"], rtol=RTOL, atol=0)
        np.testing.assert_array_equal(inputs[k], before[k])          # the input is not written into
    if case["total_norm"] + 1e-6 <= case["max_norm"]:                # below the threshold: unchanged
        for k in case["keys"]:
            np.testing.assert_array_equal(clipped[k], inputs[k])


@pytest.mark.parametrize("run", META["ema"], ids=lambda r: f"decay={r['decay']}")
def test_weight_ema_equals_torch_averaged_model(run):
    ema = train.WeightEMA(run["decay"])
    for t in range(META["ema_steps"]):
        weights = {"w": RECORDED["ema_w"][t], "b": RECORDED["ema_b"][t]}
        average = ema.update(weights)
        for k in ("w", "b"):
            np.testing.assert_allclose(average[k], RECORDED[f"{run['key']}_{k}"][t], rtol=RTOL, atol=1e-15,
                                       err_msg=f"step {t}, {k}")
    assert ema.n_averaged == META["ema_steps"]
    # Not a trivial record: the average lags the weights (except with decay 0).
    assert not np.allclose(average["w"], RECORDED["ema_w"][-1])
