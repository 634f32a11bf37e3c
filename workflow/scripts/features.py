"""Rule `features`: every layer's hidden state per word for one model and one story."""

from brainalign.config_checks import check_layers
from brainalign.features import extract_features
from brainalign.io.store import write_zarr
from brainalign.io.timings import read_word_table
from brainalign.models import ModelSpec, load_model
from brainalign.runtime import provenance, setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
params = snakemake.params  # noqa: F821
model, options = params.model, params.features
context = options["context"]

spec = ModelSpec.from_config(model["name"], model["entry"], random_init=model["random_init"],
                             seed=params.seed, device=options["device"])
loaded = load_model(spec, device_key="features.device")  # ConfigError if this node lacks the device
n_model = int(loaded.info["n_layers"])
check_layers(options["layers"], range(n_model + 1), "features.layers", f"model {spec.name} (layers 0-{n_model}, 0 = embeddings)", hint=None)
words = read_word_table(snakemake.input.words)  # noqa: F821
log.info("%s: %d words, context %s", spec.name, len(words), context)
ds = extract_features(loaded, words, mode=context["mode"], context=context["size"], length=context["length"],
                      stride=context["stride"], pooling=options["pooling"], batch_size=options["batch_size"],
                      layers=options["layers"], progress=True)
ds.attrs.update(provenance({"model": model, "features": options, "seed": params.seed}))
# One chunk per layer: analyses stream a layer without touching the others.
n_word, _, n_feature = ds["hidden"].shape
write_zarr(ds, snakemake.output[0], encoding={"hidden": {"chunks": (n_word, 1, n_feature)}})  # noqa: F821
log.info("perplexity %.2f", float(ds["perplexity"]))
