"""brainalign.checkout: the library must be the checkout's; its root is exported for the conda envs."""

import os

import pytest

from brainalign import checkout


def test_library_root_is_the_folder_above_the_package():
    root = checkout.library_root()
    assert (root / "brainalign" / "checkout.py").is_file()


def test_use_checkout_exports_the_root(monkeypatch):
    monkeypatch.delenv(checkout.ROOT_VARIABLE, raising=False)
    repo = checkout.library_root().parent
    assert checkout.use_checkout(repo) == repo
    assert os.environ[checkout.ROOT_VARIABLE] == str(repo)


def test_another_checkout_is_refused_naming_both(monkeypatch, tmp_path):
    monkeypatch.delenv(checkout.ROOT_VARIABLE, raising=False)
    (tmp_path / "workflow" / "brainalign").mkdir(parents=True)
    with pytest.raises(ImportError) as err:
        checkout.use_checkout(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "workflow" / "brainalign") in message
    assert str(checkout.library_root() / "brainalign") in message
    assert f"pip install --no-deps -e {tmp_path}" in message
    assert checkout.ROOT_VARIABLE not in os.environ  # nothing exported for a refused checkout


def test_a_checkout_linking_this_workflow_folder_is_accepted(monkeypatch, tmp_path):
    # a work folder whose workflow/ links to this checkout's (as the workflow tests build) imports the
    # same library files: accepted, and its own root is exported
    monkeypatch.delenv(checkout.ROOT_VARIABLE, raising=False)
    (tmp_path / "workflow").symlink_to(checkout.library_root())
    assert checkout.use_checkout(tmp_path) == tmp_path.resolve()
    assert os.environ[checkout.ROOT_VARIABLE] == str(tmp_path.resolve())
