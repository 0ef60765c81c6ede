"""Shared fixtures: the real instrument files in ../shared/data and small generated images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real files of ../shared/data (see its README); skip when they are not beside us."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real instrument files not found at {SHARED_DATA} (clone beside ../shared)")
    return SHARED_DATA


def write_png(path: Path, array: np.ndarray) -> Path:
    """Write a gray (2-D) or RGB (3-D) uint8/uint16 array as PNG."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)  # uint16 2-D arrays become mode "I;16"
    return path


@pytest.fixture
def uio_files(tmp_path: Path) -> list[Path]:
    """Twelve small UiO-named gray PNGs: two stations, six minutes, jittered seconds."""
    rng = np.random.default_rng(1)
    files = []
    for station in ("nya6", "lyr6"):
        for minute in range(6):
            second = int(rng.integers(0, 30))
            name = f"{station}_20141201_17{minute:02d}{second:02d}_5577_cal.png"
            image = rng.integers(0, 255, (24, 20), dtype=np.uint8)
            files.append(write_png(tmp_path / "asim" / name, image))
    return files


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> dict:
    """The generated sample (one night, small season images, 30 OATH images per class)."""
    from tame_xr.sample import write_sample

    root = tmp_path_factory.mktemp("sample")
    return write_sample(root, seed=0, nights=1, image_size=64, oath_per_class=30)


@pytest.fixture(scope="session")
def sample_oath_features(sample_dir):
    """Default-backbone features of the sample's OATH-layout set (computed once)."""
    import tame_xr

    ds = tame_xr.read_oath(sample_dir["oath"][0])
    return tame_xr.extract_features(ds).compute()


@pytest.fixture(scope="session")
def sample_classifier(sample_oath_features, tmp_path_factory):
    """A classifier fitted on the sample's train split, saved to a file."""
    from tame_xr.classify import fit_oath_classifier

    clf = fit_oath_classifier(sample_oath_features)
    path = tmp_path_factory.mktemp("clf") / "sample_svm.skops"
    clf.save(path)
    return clf, path


@pytest.fixture(scope="session")
def sample_store(sample_dir, sample_classifier, tmp_path_factory):
    """The one-night sample ingested (images, magnetometer, ceilometer, OATH), with features
    and classes of the season: what `make demo` builds, smaller. Read-only for tests."""
    import tame_xr

    store = tame_xr.Store(tmp_path_factory.mktemp("store") / "sample.zarr")
    tame_xr.ingest("images", sample_dir["asim"], store)
    tame_xr.ingest("oath", sample_dir["oath"][0], store)
    tame_xr.ingest("iaga2002", sample_dir["magnetometer"], store)
    tame_xr.ingest("pangaea_ceilometer", sample_dir["ceilometer"], store)
    store.write(tame_xr.extract_features(store.open("asim/5577")), "features/5577")
    clf, _ = sample_classifier
    store.write(clf.classify(store.open("features/5577")), "classes/5577")
    return store
