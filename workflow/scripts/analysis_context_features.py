"""Rule `context_features`: one model's features of every story with a fixed context of c tokens."""

import numpy as np

from brainalign.config_checks import check_layers
from brainalign.features import extract_features
from brainalign.io.store import write_zarr
from brainalign.io.timings import read_word_table
from brainalign.models import ModelSpec, load_model
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
model, options, layers = smk.params.model, smk.params.features, smk.params.layers
context = int(smk.wildcards.context)
spec = ModelSpec.from_config(model["name"], model["entry"], random_init=model["random_init"],
                             seed=smk.params.seed, device=options["device"])
loaded = load_model(spec, device_key="features.device")  # ConfigError if this node lacks the device
n_model = int(loaded.info["n_layers"])
check_layers(layers, range(n_model + 1), "analyses.context.layers", f"model {spec.name} (layers 0-{n_model}, 0 = embeddings)",
             hint=None)
if layers is None:
    # Evenly spaced layers bound the cost (features and encoders per context length).
    # (numpy only: this rule runs in the features env, without the analyses' dependencies)
    n_total = int(loaded.info["n_layers"]) + 1
    layers = np.unique(np.rint(np.linspace(0, n_total - 1, min(smk.params.n_layers, n_total))).astype(int)).tolist()
for story, words_path, out in zip(smk.params.stories, smk.input.words, smk.output):
    words = read_word_table(words_path)
    log.info("%s %s: %d words, fixed context %d tokens, layers %s", spec.name, story, len(words), context, layers)
    ds = extract_features(loaded, words, mode="fixed", context=context, pooling=options["pooling"],
                          batch_size=options["batch_size"], layers=layers, progress=False)
    ds.attrs.update(provenance({"model": model, "features": options, "context": context, "seed": smk.params.seed}))
    n_word, _, n_feature = ds["hidden"].shape
    write_zarr(ds, out, encoding={"hidden": {"chunks": (n_word, 1, n_feature)}})
