"""Test-suite settings shared by every test file."""

import os

import pytest
from hypothesis import settings

# In CI (CI=true) the property tests draw the same examples on every run, so a
# submission's result does not depend on the draw; locally they explore anew each time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


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
