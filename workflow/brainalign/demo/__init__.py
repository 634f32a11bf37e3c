"""brainalign.demo: original stories and a simulated BIDS dataset (fMRI + EEG) with planted truth.

>>> from brainalign.demo import load_stories, story_words, generate_demo, validate_demo

* :func:`load_stories` / :func:`story_words`: the stories and their word timings;
* :func:`generate_demo`: BIDS raw data whose planted regions are driven by given LM features;
* :func:`validate_demo`: compare layer-wise brain scores with the planted truth (the only reader
  of ``derivatives/groundtruth/truth.json``).
"""

from .generate import generate_demo
from .params import DEFAULT_PARAMS, resolve_params
from .stories import available_stories, load_stories, story_words
from .validate import region_profiles, validate_demo

__all__ = ["generate_demo", "validate_demo", "region_profiles", "load_stories", "story_words",
           "available_stories", "DEFAULT_PARAMS", "resolve_params"]
