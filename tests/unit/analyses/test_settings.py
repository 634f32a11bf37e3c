"""The analyses settings hold no defaults of their own (issue 15), and the layer subsampling helper
(brainalign.analyses.settings)."""

from __future__ import annotations

from pathlib import Path

from brainalign.analyses.settings import evenly_spaced_layers


FRAGMENT = Path(__file__).resolve().parents[3] / "workflow" / "brainalign" / "analyses" / "config.schema.yaml"


def test_no_schema_fragment_or_defaults_table_is_left():
    """The main schema is the one place for the analyses/figures defaults (issue 15)."""
    import brainalign.analyses.settings as settings

    assert not FRAGMENT.exists()
    assert not hasattr(settings, "ANALYSES") and not hasattr(settings, "FIGURES") and not hasattr(settings, "merged")


def test_evenly_spaced_layers():
    assert evenly_spaced_layers(range(31), 6) == [0, 6, 12, 18, 24, 30]
    assert evenly_spaced_layers([0, 3, 6], 10) == [0, 3, 6]
    assert evenly_spaced_layers(range(5), None) == [0, 1, 2, 3, 4]
