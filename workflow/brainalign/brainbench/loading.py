"""Load a configured model for BrainBench, optionally with a LoRA adapter merged in."""

from __future__ import annotations

import os
from dataclasses import fields

# Keys of a config["models"] entry that steer the workflow, not the weights (not ModelSpec fields).
_WORKFLOW_KEYS = ("random_control",)


def model_spec(name: str, entry: dict, random_init: bool = False, device: str | None = None):
    """The :class:`brainalign.models.ModelSpec` of one ``config["models"]`` entry.

    Workflow-only keys (``random_control``) are dropped; everything else must be a ModelSpec field.
    """
    from brainalign.models import ModelSpec

    entry = {k: v for k, v in dict(entry).items() if k not in _WORKFLOW_KEYS}
    overrides = {"random_init": True} if random_init else {}
    if device is not None and "device" in {f.name for f in fields(ModelSpec)}:
        overrides["device"] = device
    return ModelSpec.from_config(name, entry, **overrides)


def load_for_brainbench(name: str, entry: dict, random_init: bool = False, device: str | None = None,
                        adapter: str | os.PathLike | None = None):
    """Load a model (``brainalign.models.load_model``) and merge a LoRA adapter if given.

    Returns
    -------
    brainalign.models.LoadedModel
        With ``info["adapter"]`` set to the adapter directory (or None).
    """
    from brainalign.models import load_model

    # A device this node lacks is a ConfigError naming brainbench.device (checked here, at job time:
    # the node that plans the workflow may have no GPU).
    loaded = load_model(model_spec(name, entry, random_init=random_init, device=device),
                        device_key="brainbench.device")
    loaded.info["adapter"] = None
    if adapter is not None:
        from .lora import apply_adapter

        loaded.model = apply_adapter(loaded.model, adapter, merge=True)
        loaded.model.requires_grad_(False)
        loaded.info["adapter"] = str(adapter)
    return loaded
