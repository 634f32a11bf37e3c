# Fetch the published datasets of config/datasets/*.yaml (network needed; run once, on a login node).
#
#   snakemake download_narratives --cores 1 -s workflow/rules/download.smk --configfile config/datasets/narratives.yaml
#
# (-s: the main Snakefile stops at parse time while dataset.bids_root does not exist yet.)
#
# One rule per profile.  The rule of the active profile (dataset.name) takes its settings from
# `dataset.profile.download` and its destination from `dataset.bids_root`; the others use the
# defaults below.  Tools: openneuro-py (OpenNeuro), datalad (OpenNeuro's git mirrors), osfclient
# (OSF).  Downloads resume when re-run.  Later rules read any local copy: the download is never an
# input of them.

DOWNLOADS = {
    "narratives": {"tool": "openneuro", "accession": "ds002345", "tag": "1.0.3", "target": "data/ds002345",
                   "include": ["stimuli/gentle", "sub-001", "derivatives/fmriprep/sub-001"]},
    "megmasc": {"tool": "osf", "project": "ag3kj", "target": "data/megmasc"},
    "lebel2023": {"tool": "openneuro", "accession": "ds003020", "tag": "2.2.0", "target": "data/ds003020",
                  "include": ["derivative/TextGrids", "derivative/preprocessed_data/UTS01"]},  # the hf5 run
    "podcast_ecog": {"tool": "openneuro", "accession": "ds005574", "target": "data/ds005574",
                     "include": ["stimuli/podcast_transcript.csv", "sub-01"]},
}


def download_settings(name):
    """Defaults of one profile, overridden by the active config when it is that profile."""
    settings = dict(DOWNLOADS[name])
    dataset = config.get("dataset", {}) or {}
    if dataset.get("name") == name:
        settings.update((dataset.get("profile", {}) or {}).get("download", {}) or {})
        settings["target"] = dataset.get("bids_root", settings["target"])
    return settings


def download_command(settings):
    """The shell command that fetches one dataset (quoted for the shell)."""
    import shlex

    tool, target = settings["tool"], shlex.quote(str(settings["target"]))
    paths = [shlex.quote(str(i)) for i in settings.get("include", []) or []]
    if tool == "openneuro":
        cmd = f"openneuro-py download --dataset={settings['accession']} --target-dir={target}"
        if settings.get("tag"):
            cmd += f" --tag={settings['tag']}"
        return cmd + "".join(f" --include={i}" for i in paths)
    if tool == "datalad":
        url = settings.get("url", f"https://github.com/OpenNeuroDatasets/{settings['accession']}.git")
        return (f"(test -d {target}/.datalad || datalad clone {shlex.quote(url)} {target}) && "
                f"datalad get -d {target} " + " ".join(f"{target}/{i}" for i in paths or ["."]))
    if tool == "osf":
        return (f"mkdir -p {target} && osf -p {settings['project']} clone {target}/.osf && "
                f"cp -rl {target}/.osf/osfstorage/. {target}/ && rm -rf {target}/.osf")
    raise ValueError(f"dataset.profile.download.tool={tool!r}: expected openneuro, datalad or osf")


for _name in DOWNLOADS:

    rule:
        name:
            f"download_{_name}"
        output:
            touch(f"results/downloads/{_name}.done"),
        params:
            command=download_command(download_settings(_name)),
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
