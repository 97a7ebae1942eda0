"""Conformance tests of crmd's wire protocol (docs/PROTOCOL.md), run against a
live server:

    CRM_SOCKET=/path/to/crm.sock python3 -m pytest -q sdk/python/tests

Optional environment, for servers not started with the default limits:

    CRM_MAX_MESSAGE_BYTES   the server's max_message_bytes (default 4194304)
    CRM_MAX_IN_FLIGHT       max_in_flight_per_connection (default 256)
    CRM_READ_TIMEOUT_MS     read_timeout_ms (default 10000); the read-timeout
                            tests are skipped above 20000
    CRM_IDLE_TIMEOUT_MS     idle_timeout_ms; the idle-timeout test runs only
                            when this is set to 20000 or less
    CRM_SKIP_SLOW=1         skip the tests that wait for a server timeout

Tests that need the conformance probe plugin (crm.testing.v1.Probe) skip
themselves when the server does not serve it.

Only the standard library, pytest and the crm package (in sdk/python) are used.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# The crm package lives one level up; helpers.py lives here. Explicit, so that
# any pytest import mode finds both.
for path in (os.path.dirname(HERE), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

import crm  # noqa: E402
from helpers import PROBE_SERVICE, SOCKET, open_conn  # noqa: E402


def pytest_collection_modifyitems(config, items):
    # Every test here talks to a live crmd; without one, skip them all and say why.
    if SOCKET:
        return
    skip = pytest.mark.skip(reason="CRM_SOCKET is not set: these tests need a running crmd; "
                                   "set CRM_SOCKET to its socket path")
    for item in items:
        if str(item.path).startswith(HERE + os.sep):
            item.add_marker(skip)


@pytest.fixture
def conn():
    connection = open_conn()
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def probe():
    """Skips the test unless the server serves the conformance probe plugin."""
    with open_conn() as c:
        if PROBE_SERVICE not in {s.name for s in crm.list_services(c)}:
            pytest.skip("the server does not serve %s (the probe test plugin)" % PROBE_SERVICE)
