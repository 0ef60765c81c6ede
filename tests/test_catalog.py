"""Intake catalogs: the same Datasets as Store.open, paths relative to the catalog."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import intake
import numpy as np
import pytest
import xarray as xr
import yaml

import tame_xr
from tame_xr.catalog import write_catalog

REPO = Path(__file__).resolve().parents[1]


def test_catalog_opens_same_datasets(uio_files, tmp_path):
    store = tame_xr.Store(tmp_path / "project" / "obs.zarr")
    tame_xr.ingest("images", uio_files, store)
    store.write(tame_xr.read_images(uio_files).isel(time=[0]).drop_vars("image"), "meta/first")
    path = write_catalog(store)
    assert path == tmp_path / "project" / "obs.yaml"
    # the catalog moves with the store: relative paths only
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "project", moved)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cat = intake.open_catalog(moved / "obs.yaml")
        assert sorted(cat) == ["asim_5577", "meta_first"]
        ds = cat["asim_5577"].to_dask()
    assert ds["image"].chunks is not None  # lazy
    want = tame_xr.Store(moved / "obs.zarr").open("asim/5577")
    xr.testing.assert_equal(ds.load(), want.load())


def test_catalog_is_plain_yaml(uio_files, tmp_path):
    store = tame_xr.Store(tmp_path / "obs.zarr")
    tame_xr.ingest("images", uio_files, store)
    text = write_catalog(store).read_text()
    assert "!!python" not in text
    content = yaml.safe_load(text)
    assert content["sources"]["asim_5577"]["args"]["urlpath"] == "{{ CATALOG_DIR }}/obs.zarr"


def test_repository_catalog_describes_demo_store():
    content = yaml.safe_load((REPO / "catalog.yaml").read_text())
    groups = {v["args"]["group"] for v in content["sources"].values()}
    assert {
        "asim/5577",
        "oath",
        "features/5577",
        "classes/5577",
        "magnetometer",
        "ceilometer",
    } <= groups
    for source in content["sources"].values():
        assert source["args"]["urlpath"] == "{{ CATALOG_DIR }}/data/demo.zarr"
        assert source["driver"] == "zarr"
    assert np.all(
        [k == v["args"]["group"].replace("/", "_") for k, v in content["sources"].items()]
    )


def test_open_entry_equals_store_open(uio_files, tmp_path):
    store = tame_xr.Store(tmp_path / "obs.zarr")
    tame_xr.ingest("images", uio_files, store)
    path = write_catalog(store)
    got = tame_xr.open_entry(path, "asim_5577", station="nya")
    xr.testing.assert_identical(got.load(), store.open("asim/5577", station="nya").load())


CRAFTED = {
    "python tag": "sources:\n  x: !!python/object/apply:os.system ['touch {marker}']\n",
    "driver as import path": (
        "sources:\n  x:\n    driver: os.system\n    args: {{urlpath: 'touch {marker}'}}\n"
    ),
    "shell template": (
        "sources:\n  x:\n    driver: zarr\n"
        "    args: {{urlpath: \"{{{{ shell('touch {marker}') }}}}\", group: asim/5577}}\n"
    ),
    "env template": (
        "sources:\n  x:\n    driver: zarr\n"
        "    args: {{urlpath: \"{{{{ env('HOME') }}}}/{marker}\", group: asim/5577}}\n"
    ),
    "extra argument": (
        "sources:\n  x:\n    driver: zarr\n"
        "    args: {{urlpath: '{marker}', group: a, consolidated: true, chunks: {{}}}}\n"
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_catalog_runs_no_code(case, tmp_path):
    """A catalog handed to the package is data: tags, drivers and templates are refused,
    with the file named, and nothing runs (the marker file is never created)."""
    marker = tmp_path / "PWNED"
    catalog = tmp_path / "evil.yaml"
    catalog.write_text(CRAFTED[case].format(marker=marker), encoding="utf-8")
    with pytest.raises(ValueError, match=str(catalog)):
        tame_xr.open_entry(catalog, "x")
    assert not marker.exists()
