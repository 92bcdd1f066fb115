"""Hypothesis profiles: a bounded one for the normal suite, a longer one on demand.

    JOSE_HYPOTHESIS_PROFILE=long pytest tests/test_properties.py   # ~20x the examples
"""
import os

try:
    from hypothesis import HealthCheck, settings
except ImportError:      # the property tests skip themselves without hypothesis
    pass
else:
    _common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                         HealthCheck.function_scoped_fixture])
    settings.register_profile("default", max_examples=40, **_common)
    settings.register_profile("long", max_examples=1000, **_common)
    settings.load_profile(os.environ.get("JOSE_HYPOTHESIS_PROFILE", "default"))
