"""read_oath on the real OATH mini set (full label file, 10 images of 5824)."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from PIL import Image

from tame_xr.io import oath as oath_mod
from tame_xr.io.oath import CLASS_NAMES, oath_split, read_labels, read_oath
from tame_xr.report import BadInputError, IngestReport, SkippedInputWarning

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MINI = DATA / "oath_mini"
CSV = MINI / "classifications" / "classifications.csv"
PIC_NUMS = [1, 2, 4, 5, 6, 7, 8, 11, 14, 53]
EXPECTED = {1: "discrete", 2: "discrete", 4: "arc", 5: "arc", 53: "arc"}
N_LABELS = 5824

pytestmark = pytest.mark.skipif(
    not CSV.is_file(), reason=f"real OATH mini set not found at {MINI} (../shared/data)"
)


def writable_copy(src: Path, dst: Path, images: bool = True) -> Path:
    """Copy the (read-only) mini set into ``dst`` with writable files and folders."""
    ignore = None if images else shutil.ignore_patterns("*.png")
    shutil.copytree(src, dst, copy_function=shutil.copyfile, ignore=ignore)
    for root, dirs, files in os.walk(dst):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), stat.S_IRWXU)
    os.chmod(dst, stat.S_IRWXU)
    return dst


@pytest.fixture(scope="module")
def mini() -> tuple[xr.Dataset, IngestReport]:
    report = IngestReport()
    return read_oath(MINI, report=report), report


def test_samples_and_labels(mini):
    ds, _ = mini
    assert ds.sizes == {"sample": 10, "y": 256, "x": 256}
    assert ds["sample"].values.tolist() == PIC_NUMS
    assert ds["sample"].dtype.kind == "i"
    names = dict(zip(PIC_NUMS, ds["label_name"].values.tolist(), strict=True))
    assert names == {n: EXPECTED.get(n, "diffuse") for n in PIC_NUMS}
    assert all(type(v) is str for v in ds["label_name"].values)
    assert ds["class6"].dtype == np.int8 and ds["class2"].dtype == np.int8
    assert ds["rot_ang"].dtype == np.int16 and ds["rot_ang"].attrs["units"] == "degree"
    assert [CLASS_NAMES[c] for c in ds["class6"].values] == ds["label_name"].values.tolist()
    assert (ds["class2"].values == 0).all()  # all ten are aurora
    assert ds["class6"].attrs["flag_meanings"] == "arc diffuse discrete cloudy moon clear"
    assert list(ds["class6"].attrs["flag_values"]) == [0, 1, 2, 3, 4, 5]
    for name, var in ds.variables.items():
        assert "long_name" in var.attrs, name


def test_labels_match_csv_rows(mini):
    ds, _ = mini
    rows = {}
    lines = CSV.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("class2,"))
    for line in lines[header + 1 :]:
        c2, c6, num, pic_type, rot = line.split(",")
        rows[int(num)] = (int(c2), int(c6), pic_type.replace("noaurora", "clear"), int(rot))
    for i, num in enumerate(PIC_NUMS):
        got = ds.isel(sample=i)
        assert rows[num] == (
            int(got.class2),
            int(got.class6),
            str(got.label_name.values),
            int(got.rot_ang),
        )


def test_class2_is_aurora_flag_on_full_table():
    labels = read_labels(CSV)
    assert labels.pic_num.size == N_LABELS
    assert np.array_equal(labels.class2 == 0, labels.class6 <= 2)
    assert labels.pic_num.tolist() == list(range(1, N_LABELS + 1))


def test_image_is_lazy_green_channel(mini):
    ds, _ = mini
    assert isinstance(ds["image"].data, da.Array)
    assert ds["image"].dtype == np.uint8
    loaded = ds["image"].compute()
    for i, num in enumerate(PIC_NUMS):
        with Image.open(MINI / "images" / "cropped_scaled" / f"{num:05d}.png") as img:
            green = np.asarray(img)[..., 1]
        assert green.shape == (256, 256)
        np.testing.assert_array_equal(loaded.values[i], green)
    assert loaded.values.max() > 0


def test_chunks():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedInputWarning)
        ds = read_oath(MINI, chunks=4)
    assert ds["image"].chunks == ((4, 4, 2), (256,), (256,))


def test_missing_reported_with_report(mini):
    ds, report = mini
    assert len(report.added) == 10
    assert len(report.skipped) == N_LABELS - 10
    assert all(s.reason == "image file missing (partial download?)" for s in report.skipped)
    assert any(s.path.endswith("00003.png") for s in report.skipped)
    assert ds.attrs["n_images_missing"] == N_LABELS - 10
    assert ds.attrs["n_labels"] == N_LABELS


def test_missing_reported_as_one_warning():
    with pytest.warns(SkippedInputWarning) as record:
        ds = read_oath(MINI)
    skipped = [w for w in record if issubclass(w.category, SkippedInputWarning)]
    assert len(skipped) == 1
    assert "5814 OATH pictures skipped" in str(skipped[0].message)
    assert "partial download" in str(skipped[0].message)
    assert skipped[0].filename == __file__
    assert ds.sizes["sample"] == 10


def test_licence_and_acknowledgement(mini):
    ds, _ = mini
    assert "CC BY 4.0" in ds.attrs["license"]
    assert "https://creativecommons.org/licenses/by/4.0/" in ds.attrs["license"]
    assert "<a" not in ds.attrs["license"] and "---" not in ds.attrs["license"]
    ack = ds.attrs["acknowledgement"]
    assert "NASA" in ack and "THEMIS" in ack and ack.startswith("We thank")
    assert "We thank" not in ds.attrs["license"]
    for key in ("title", "source", "history", "tame_xr_version"):
        assert ds.attrs[key]


def test_split_on_full_table(mini):
    ds, _ = mini
    full = oath_split(MINI)
    assert full.size == N_LABELS and full.dtype == object
    assert set(full) == {"train", "test"}
    assert (full == "train").sum() == round(0.7 * N_LABELS)
    assert ds["split"].values.tolist() == full[np.array(PIC_NUMS) - 1].tolist()
    table = np.loadtxt(MINI / "classifications" / "train_test_split.csv", delimiter=",")
    first = table[2].astype(int)[: round(0.5 * N_LABELS)]
    assert (oath_split(MINI, 2, 0.5)[first] == "train").all()
    assert oath_split(MINI, 4, 1.0).tolist() == ["train"] * N_LABELS
    with pytest.raises(ValueError, match="permutation"):
        oath_split(MINI, 5)
    with pytest.raises(ValueError, match="train_fraction"):
        oath_split(MINI, 0, 1.5)


def test_tarball_gives_same_dataset(mini, tmp_path, monkeypatch):
    ds, _ = mini
    tgz = tmp_path / "oath_mini.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(MINI, arcname="oath_v1.1")
    report = IngestReport()
    from_tar = read_oath(tgz, report=report)
    xr.testing.assert_equal(from_tar.load(), ds.load())
    drop = {"history"}
    assert {k: v for k, v in from_tar.attrs.items() if k not in drop} == {
        k: v for k, v in ds.attrs.items() if k not in drop
    }
    assert (tmp_path / "oath_mini.tgz.untar" / "oath_v1.1" / "classifications").is_dir()
    assert len(report.added) == 10

    def no_second_extraction(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr("tame_xr.safetar.safe_extract", no_second_extraction)
    again = read_oath(tgz, report=IngestReport())
    assert again.sizes["sample"] == 10


def test_extract_dir(tmp_path):
    tgz = tmp_path / "o.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(MINI, arcname="oath_v1.1")
    ds = read_oath(tgz, report=IngestReport(), extract_dir=tmp_path / "x")
    assert (tmp_path / "x" / "oath_v1.1").is_dir()
    assert ds.sizes["sample"] == 10


def _csv_variant(tmp_path: Path, edit) -> Path:
    root = writable_copy(MINI, tmp_path / "oath", images=False)
    csv_path = root / "classifications" / "classifications.csv"
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(edit(lines)) + "\n")
    return root


def _set(lines: list[str], lineno: int, text: str) -> list[str]:
    lines[lineno - 1] = text
    return lines


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda ls: ls[:18] + ls[19:], "no header line"),
        (lambda ls: _set(ls, 19, "class2,class6,picNum,picType"), "line 19: columns"),
        (lambda ls: _set(ls, 20, "0,9,00001,discrete,334"), "line 20: class6 9 is not in 0..5"),
        (lambda ls: _set(ls, 21, "0,2,00001,discrete,029"), "line 21: duplicate picNum 1"),
        (lambda ls: ls[:-1] + ["1,3,05"], "line 5843: expected 5 fields, got 3"),
        (lambda ls: _set(ls, 22, "0,x,00003,discrete,355"), "line 22: non-integer"),
        (lambda ls: _set(ls, 20, "1,2,00001,discrete,334"), "line 20: class2 1, class6 2"),
        (lambda ls: _set(ls, 20, "0,2,00001,arc,334"), "line 20: .*picType 'arc'"),
    ],
    ids=["no-header", "columns", "class6", "duplicate", "truncated", "non-int", "class2", "type"],
)
def test_bad_csv(tmp_path, edit, match):
    root = _csv_variant(tmp_path, edit)
    with pytest.raises(BadInputError, match=match) as info:
        read_oath(root, report=IngestReport())
    assert info.value.path.endswith("classifications.csv")
    assert str(root) in str(info.value)


def test_split_length_must_match(tmp_path):
    root = _csv_variant(tmp_path, lambda ls: ls[:-1])
    with pytest.raises(BadInputError, match="train_test_split.csv"):
        read_oath(root, report=IngestReport())


def test_bad_images_are_skipped_with_reasons(tmp_path):
    root = writable_copy(MINI, tmp_path / "oath")
    images = root / "images" / "cropped_scaled"
    (images / "00003.png").write_bytes(b"")  # zero bytes, listed in the CSV
    data = (images / "00004.png").read_bytes()
    (images / "00004.png").write_bytes(data[: len(data) // 2])  # truncated
    Image.new("RGB", (200, 100)).save(images / "00009.png")  # wrong size
    Image.new("L", (256, 256)).save(images / "00010.png")  # gray: no green channel
    report = IngestReport()
    ds = read_oath(root, report=report, chunks=3)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["00003.png"] == "empty file (0 bytes)"
    assert "truncated PNG" in reasons["00004.png"]
    assert reasons["00009.png"] == "image size 200x100, expected 256x256"
    assert "green channel" in reasons["00010.png"]
    assert ds["sample"].values.tolist() == [n for n in PIC_NUMS if n != 4]
    assert ds.attrs["n_images_bad"] == 4
    assert ds.attrs["n_images_missing"] == N_LABELS - 10 - 3  # 3 files added
    assert ds["image"].compute().shape == (9, 256, 256)


def test_no_images_at_all(tmp_path):
    root = writable_copy(MINI, tmp_path / "oath", images=False)
    report = IngestReport()
    ds = read_oath(root, report=report)
    assert ds.sizes["sample"] == 0 and len(report.skipped) == N_LABELS
    assert ds["image"].compute().shape == (0, 256, 256)


def test_not_oath(tmp_path):
    with pytest.raises(BadInputError, match="no single OATH root"):
        read_oath(tmp_path)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(BadInputError, match="tarball"):
        read_oath(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError):
        read_oath(tmp_path / "nope.tgz")


def test_zarr_round_trip_without_warnings(mini, tmp_path):
    ds, _ = mini
    store = tmp_path / "x.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.to_zarr(store, zarr_format=3, consolidated=False)
        back = xr.open_zarr(store, consolidated=False).load()
    for name in ("label_name", "split"):
        assert back[name].values.tolist() == ds[name].values.tolist()
    xr.testing.assert_equal(back, ds.load())
    assert back.attrs["license"] == ds.attrs["license"]
    assert back["class6"].attrs["flag_meanings"] == ds["class6"].attrs["flag_meanings"]


def test_module_exports():
    assert set(oath_mod.__all__) >= {"read_oath", "oath_split"}
