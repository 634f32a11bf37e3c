"""The reliability suite: one test per kind of damaged or unusual input (issue: trust on real inputs).

Every test builds its damaged input (from the demo, the shared recordings in ``../shared/data`` or a
small synthetic BIDS tree), runs the library call or the rule, and asserts the exact class of
outcome: an error whose message names the file (or config key) and what was expected
(:func:`assert_input_error`), or a documented, logged correction recorded in the output's
attributes.  A traceback alone never passes.

Each area keeps its own builders in its own module (``test_<area>.py``) so that the suite reads as
a list of cases; shared helpers live in ``reliability_helpers.py``.
"""

from __future__ import annotations

from reliability_helpers import REPO, SHARED, assert_input_error  # noqa: F401  (re-exported for fixtures)
