"""Test-suite settings shared by every test file."""

import os

from hypothesis import settings

# In CI (CI=true) the property tests draw the same examples on every run, so a
# submission's result does not depend on the draw; locally they explore anew each time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
