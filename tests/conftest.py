"""Test-suite settings shared by every test file."""

import os

import pytest
from hypothesis import settings

# In CI (CI=true) the property tests draw the same examples on every run, so a
# submission's result does not depend on the draw; locally they explore anew each time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
# `make test-fast` (HYPOTHESIS_PROFILE=fast) draws 10 examples per property instead of 100, unless
# a test asks for its own number: every property still runs, the full suite explores further.
settings.register_profile("fast", max_examples=10)
settings.register_profile("ci-fast", settings.get_profile("ci"), max_examples=10)
fast = os.environ.get("HYPOTHESIS_PROFILE") == "fast"
if os.environ.get("CI"):
    settings.load_profile("ci-fast" if fast else "ci")
elif fast:
    settings.load_profile("fast")


@pytest.fixture
def lab_server(tmp_path):
    """A running JupyterLab (``scripts.labdriver.jupyterlab``) with an empty temporary root: copy or
    write the notebooks a browser test opens into ``lab_server.root``. Skipped, with the reason,
    when chromium or playwright is missing."""
    from scripts import labdriver
    reason = labdriver.missing_browser()
    if reason:
        pytest.skip(reason)
    with labdriver.jupyterlab(tmp_path) as lab:
        yield lab
