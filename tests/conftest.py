"""Shared pytest configuration: fixtures every test area can use, and deterministic Hypothesis.

Property tests are derandomized (the same examples on every run and machine) and keep no example
database, so a CI run is reproducible and never depends on what an earlier run happened to find.
Set GRINDER_HYPOTHESIS_PROFILE=explore locally to search with fresh random examples; bench/mutation.py
uses the "mutation" profile (10 examples per property, still derandomized).
"""

import decimal
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "deterministic",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# bench/mutation.py: the same derandomized examples, fewer of them (each mutant reruns the tests).
settings.register_profile("mutation", parent=settings.get_profile("deterministic"), max_examples=10)
settings.load_profile(os.environ.get("GRINDER_HYPOTHESIS_PROFILE", "deterministic"))

pytest_plugins = ["tests.fixtures.redis_server", "tests.fixtures.simulator"]


@pytest.fixture(autouse=True)
def _default_decimal_context() -> Iterator[None]:
    """Every test starts and ends with Python's default decimal context (28 digits, half-even).

    Third-party clients change the thread's context as a side effect: ccxt's decimal_to_precision
    (tests/sim/test_ccxt.py) leaves ROUND_HALF_UP and a trapped Underflow behind, which made later
    half-tick roundings (e.g. an off-grid liquidation price) depend on test order.
    """
    decimal.setcontext(decimal.Context())
    yield
    decimal.setcontext(decimal.Context())
