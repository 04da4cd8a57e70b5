"""Settings for the whole test run (tests/ and the notebooks nbval collects)."""

import pytest


def pytest_collection_modifyitems(items):
    """Notebooks re-run by nbval start a kernel and browser tests start Chromium: both are
    slow (`make test-fast` leaves out everything marked slow)."""
    for item in items:
        if ".ipynb" in item.nodeid or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
