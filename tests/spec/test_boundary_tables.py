"""Every indicator in the registry has hand-written patients on both sides of its rule's boundaries.

The boundary tables (``CASES`` of the ``test_*_boundaries`` modules) are where a new indicator's spec tests
go: an indicator added to the registry without rows there fails here, by name.
"""

from __future__ import annotations

from queries.registry import registry
from tests.spec import (
    test_asthma_boundaries,
    test_cancer_boundaries,
    test_hypertension_boundaries,
    test_immunisation_boundaries,
)
from tests.spec.helpers import MET, MISSED, NOT_COUNTED

TABLES = (test_immunisation_boundaries, test_hypertension_boundaries, test_asthma_boundaries, test_cancer_boundaries)
# Its numerator and denominator are counts of expected cases, not one patient's 0 or 1: test_hypertension.py checks
# each age and sex boundary of the expected rate instead.
NOT_PER_PATIENT = {"hyp_detection_ratio"}


def test_every_indicator_has_a_boundary_table_row_met_and_one_not():
    outcomes: dict[str, set] = {}
    for module in TABLES:
        for indicator, _period, _unit, expected in module.CASES:
            outcomes.setdefault(indicator, set()).add(expected)
    assert set(registry) - set(outcomes) == NOT_PER_PATIENT
    one_sided = {
        indicator for indicator, seen in outcomes.items() if MET not in seen or not seen & {MISSED, NOT_COUNTED}
    }
    assert one_sided == set(), "each indicator needs a patient counted and one not"
