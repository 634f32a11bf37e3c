"""brainalign: measure how well language-model representations predict brain recordings.

The library is organised by pipeline stage; each subpackage holds one stage and talks to the
others only through labelled xarray objects (see ``docs/architecture.md``).
"""

__version__ = "0.1.0"
