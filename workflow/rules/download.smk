# Fetch the published datasets of config/datasets/*.yaml (network needed; run once, on a login node).
#
#   snakemake download_narratives --cores 1 -s workflow/rules/download.smk --configfile config/datasets/narratives.yaml
#
# (-s: the main Snakefile stops at parse time while dataset.bids_root does not exist yet.)
#
# One rule per profile that has a `dataset.profile.download` section.  Its settings are the
# profile file's (config/datasets/<name>.yaml: the one place they are written), or the active
# config's when it is that profile (dataset.name), with the schema's defaults filled in
# (workflow/schemas/config.schema.yaml: tag, include, url); the destination is the profile's
# `dataset.bids_root`.  Tools: openneuro-py (OpenNeuro), datalad (OpenNeuro's git mirrors), osfclient
# (OSF).  Downloads resume when re-run.  Later rules read any local copy: the download is never an
# input of them.

from pathlib import Path as _DlPath

import yaml as _dl_yaml

# The library: the installed brainalign (the .venv of `make venv`, as for the main Snakefile).
from brainalign.config_sections import with_defaults as _dl_with_defaults

_DL_PROFILES = _DlPath(workflow.current_basedir).parents[1] / "config" / "datasets"


def download_settings(name):
    """``(settings, target)`` of profile ``name``: its download section, schema defaults filled in."""
    dataset = _dl_yaml.safe_load((_DL_PROFILES / f"{name}.yaml").read_text())["dataset"]
    active = config.get("dataset")  # the config is not validated when this file runs on its own
    if isinstance(active, dict) and active.get("name") == name:
        dataset = active  # the profile merged with the command line's overrides
    settings = _dl_with_defaults("dataset.profile.download", dataset["profile"]["download"])
    return settings, dataset["bids_root"]


def download_command(settings, target):
    """The shell command that fetches one dataset into ``target`` (quoted for the shell)."""
    import shlex

    tool, target = settings["tool"], shlex.quote(str(target))
    paths = [shlex.quote(str(i)) for i in settings["include"]]
    if tool == "openneuro":
        cmd = f"openneuro-py download --dataset={settings['accession']} --target-dir={target}"
        if settings["tag"] is not None:
            cmd += f" --tag={settings['tag']}"
        return cmd + "".join(f" --include={i}" for i in paths)
    if tool == "datalad":
        url = settings["url"] or f"https://github.com/OpenNeuroDatasets/{settings['accession']}.git"
        return (f"(test -d {target}/.datalad || datalad clone {shlex.quote(url)} {target}) && "
                f"datalad get -d {target} " + " ".join(f"{target}/{i}" for i in paths or ["."]))
    if tool == "osf":
        return (f"mkdir -p {target} && osf -p {settings['project']} clone {target}/.osf && "
                f"cp -rl {target}/.osf/osfstorage/. {target}/ && rm -rf {target}/.osf")
    raise ValueError(f"dataset.profile.download.tool={tool!r}: expected openneuro, datalad or osf")


DOWNLOADS = sorted(p.stem for p in _DL_PROFILES.glob("*.yaml")
                   if "download" in (_dl_yaml.safe_load(p.read_text())["dataset"].get("profile") or {}))

for _name in DOWNLOADS:

    rule:
        name:
            f"download_{_name}"
        output:
            touch(f"results/downloads/{_name}.done"),
        params:
            command=download_command(*download_settings(_name)),
        log:
            f"results/logs/download/{_name}.log",
        localrule: True
        threads: 1
        resources:
            mem_mb=2000,
            runtime=720,
        conda:
            "../../envs/download.yaml"
        shell:
            "({params.command}) > {log} 2>&1"
