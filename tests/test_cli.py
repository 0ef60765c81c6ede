"""The `tame-xr` command: help, ingest of real files, one-line errors, the processing chain."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import tame_xr
from tame_xr import _cli_commands
from tame_xr.cli import main

COMMANDS = [
    "ingest",
    "fetch-oath",
    "features",
    "train",
    "classify",
    "join",
    "figures",
    "catalog",
    "demo",
]
KHO_PATTERN = "{station}-Sony-{%y%m%d}_{%H%M%S}.jpg"


def one_error_line(err: str, command: str) -> str:
    """The single stderr line of a failed command (and no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tame-xr {command}: error:"), err
    assert "Traceback" not in err
    return lines[0]


# ----------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_zero_with_an_example(command, capsys):
    argv = ([command] if command else []) + ["--help"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "example" in out
    assert f"usage: tame-xr {command or ''}".strip() in out


def test_console_script_and_module_run():
    script = Path(sys.executable).with_name("tame-xr")
    runs = [[sys.executable, "-m", "tame_xr", "--help"]]
    if script.exists():
        runs.append([str(script), "--help"])
    for argv in runs:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "usage: tame-xr" in proc.stdout and "examples:" in proc.stdout


def test_no_command_and_version(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tame-xr: error: a command is required") and err.count("\n") == 1
    assert main(["--version"]) == 0
    assert tame_xr.__version__ in capsys.readouterr().out


# ----------------------------------------------------------------------------- ingest
def test_ingest_kho_images(shared_data, tmp_path, capsys):
    files = sorted(str(p) for p in (shared_data / "asim" / "kho").glob("*.jpg"))
    store = tmp_path / "s.zarr"
    argv = ["ingest", "images", *files, "--pattern", KHO_PATTERN, "--product", "kho_sony"]
    assert main(["--store", str(store), *argv]) == 0
    out = capsys.readouterr().out
    assert "2 inputs added into asim/kho_sony" in out and "0 skipped" in out
    ds = tame_xr.Store(store).open("asim/kho_sony")
    assert list(ds["station"].values) == ["lyr"] and int(ds["valid"].sum()) == 2
    # Again, with --store after the command: nothing new.
    assert main([*argv, "--store", str(store)]) == 0
    assert "2 already stored" in capsys.readouterr().out


def test_ingest_iaga2002(shared_data, tmp_path, capsys):
    files = [str(p) for p in sorted((shared_data / "magn" / "iaga2002").glob("*.min"))]
    assert main(["--store", str(tmp_path / "s.zarr"), "ingest", "iaga2002", *files]) == 0
    assert "2 inputs added into magnetometer" in capsys.readouterr().out
    ds = tame_xr.Store(tmp_path / "s.zarr").open("magnetometer")
    assert "bou" in ds["station"].values and ds.sizes["time"] == 2 * 1440


def test_ingest_zero_byte_file_exits_3_and_names_it(shared_data, tmp_path, capsys):
    good = str(shared_data / "asim" / "kho" / "LYR-Sony-111220_200933.jpg")
    empty = tmp_path / "LYR-Sony-111220_201033.jpg"
    empty.write_bytes(b"")
    store = str(tmp_path / "s.zarr")
    argv = ["--store", store, "ingest", "images", good, str(empty), "--pattern", KHO_PATTERN]
    assert main([*argv, "--product", "kho_sony"]) == 3
    out = capsys.readouterr().out
    assert "1 inputs added" in out and "1 skipped" in out
    assert f"skipped {empty}" in out
    assert int(tame_xr.Store(store).open("asim/kho_sony")["valid"].sum()) == 1


# ----------------------------------------------------------------------------- errors
def test_unknown_kind_is_one_line(capsys):
    assert main(["ingest", "nope", "somefile"]) == 2
    captured = capsys.readouterr()
    assert "invalid choice: 'nope'" in one_error_line(captured.err, "ingest")
    assert captured.out == ""


def test_option_that_does_not_apply_to_kind(shared_data, tmp_path, capsys):
    files = str(shared_data / "magn" / "iaga2002" / "bou20141101vmin.min")
    argv = ["--store", str(tmp_path / "s.zarr"), "ingest", "iaga2002", files, "--pattern", "x"]
    assert main(argv) == 1
    assert "--pattern does not apply" in one_error_line(capsys.readouterr().err, "ingest")


def test_features_without_store_or_group_is_one_line(shared_data, tmp_path, capsys):
    store = str(tmp_path / "s.zarr")
    assert main(["--store", store, "features"]) == 1
    assert "no tame_xr store" in one_error_line(capsys.readouterr().err, "features")
    files = str(shared_data / "magn" / "iaga2002" / "bou20141101vmin.min")
    assert main(["--store", store, "ingest", "iaga2002", files]) == 0
    capsys.readouterr()
    assert main(["--store", store, "features", "--group", "asim/5577"]) == 1
    line = one_error_line(capsys.readouterr().err, "features")
    assert "no group 'asim/5577'" in line and "magnetometer" in line


def test_other_one_line_errors(tmp_path, capsys):
    assert main(["fetch-oath"]) == 1  # no download without a hash
    assert "--hash sha256:<hex> is required" in one_error_line(
        capsys.readouterr().err, "fetch-oath"
    )
    argv = ["--store", str(tmp_path / "s.zarr"), "ingest", "images", str(tmp_path / "*.png")]
    assert main(argv) == 1
    assert "no files found" in one_error_line(capsys.readouterr().err, "ingest")
    assert main(["--store", str(tmp_path / "none.zarr"), "catalog"]) == 1
    one_error_line(capsys.readouterr().err, "catalog")


def test_usage_errors_are_one_line(capsys):
    assert main(["join", "a", "b", "--tolerance", "soon"]) == 2
    assert "invalid tolerance" in one_error_line(capsys.readouterr().err, "join")
    argv = ["join", "a", "b", "--tolerance", "60s", "--stations", "nya"]
    assert main(argv) == 2
    assert "LEFT=RIGHT" in one_error_line(capsys.readouterr().err, "join")
    assert main(["classify", "x.png"]) == 2  # --classifier is required
    one_error_line(capsys.readouterr().err, "classify")


def test_interrupt_and_debug(monkeypatch, tmp_path, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    def failing(args):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(_cli_commands, "cmd_catalog", interrupted)
    assert main(["catalog"]) == 130
    assert capsys.readouterr().err.strip() == "tame-xr catalog: interrupted"
    monkeypatch.setattr(_cli_commands, "cmd_catalog", failing)
    assert main(["catalog"]) == 1
    assert one_error_line(capsys.readouterr().err, "catalog").endswith("first line; second line")
    with pytest.raises(RuntimeError):
        main(["--debug", "catalog"])


# ----------------------------------------------------------------------------- chain
@pytest.fixture(scope="module")
def store_copy(sample_store, tmp_path_factory) -> Path:
    """A writable copy of the session's sample store (which stays read-only)."""
    path = tmp_path_factory.mktemp("cli") / "sample.zarr"
    shutil.copytree(sample_store.path, path)
    return path


@pytest.fixture(scope="module")
def trained(store_copy, tmp_path_factory):
    """`tame-xr train` on the copy: OATH features extracted, classifier written."""
    output = tmp_path_factory.mktemp("clf") / "svm.skops"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["--store", str(store_copy), "train", "--output", str(output)])
    return status, out.getvalue(), output


def test_train_writes_classifier_and_prints_accuracy(trained, store_copy):
    status, out, output = trained
    assert status == 0, out
    assert output.is_file() and f"saved {output}" in out
    assert "six-class accuracy" in out and "aurora/no-aurora accuracy" in out
    accuracy6 = float(out.split("six-class accuracy ")[1].split(",")[0])
    assert accuracy6 >= 0.8
    assert tame_xr.Store(store_copy).exists("features/oath")
    assert tame_xr.OathClassifier.load(output).sha256_ in out


def test_classify_features_group(trained, store_copy, capsys):
    _, _, clf = trained
    argv = ["--store", str(store_copy), "classify", "--features", "features/5577"]
    assert main([*argv, "--target", "classes/cli", "--classifier", str(clf)]) == 0
    assert "classes/cli: classes of" in capsys.readouterr().out
    ds = tame_xr.Store(store_copy).open("classes/cli")
    assert {"proba", "aurora_proba", "predicted"} <= set(ds.data_vars)
    assert ds.attrs["classifier_sha256"] == tame_xr.OathClassifier.load(clf).sha256_


def test_classify_files_prints_table_and_csv(trained, shared_data, tmp_path, capsys):
    _, _, clf = trained
    files = sorted(str(p) for p in (shared_data / "oath_mini" / "images").rglob("*.png"))
    csv = tmp_path / "table.csv"
    assert main(["classify", *files, "--classifier", str(clf), "--output", str(csv)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["file", "time", "label", "aurora_proba"]
    assert all(f in out for f in files)
    table = pd.read_csv(csv)
    assert list(table["file"]) == files and "proba_arc" in table
    assert table["label"].isin(["arc", "diffuse", "discrete", "cloudy", "moon", "clear"]).all()


def test_classify_files_with_unreadable_file_exits_3(trained, shared_data, tmp_path, capsys):
    _, _, clf = trained
    good = str(shared_data / "oath_mini" / "images" / "cropped_scaled" / "00001.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert main(["classify", good, str(empty), "--classifier", str(clf)]) == 3
    captured = capsys.readouterr()
    assert "00001.png" in captured.out and str(empty) in captured.out
    assert "Traceback" not in captured.err


def test_classify_without_classifier_file_is_one_line(tmp_path, capsys):
    assert main(["classify", "--classifier", str(tmp_path / "none.skops")]) == 1
    assert "not found" in one_error_line(capsys.readouterr().err, "classify")


def test_join_writes_group(store_copy, capsys):
    argv = ["--store", str(store_copy), "join", "classes/5577", "magnetometer"]
    assert main([*argv, "--tolerance", "60s", "--variables", "X"]) == 0
    out = capsys.readouterr().out
    assert "X for" in out and "joined/classes_5577_magnetometer" in out
    ds = tame_xr.Store(store_copy).open("joined/classes_5577_magnetometer")
    assert {"X", "time_difference", "proba"} <= set(ds.data_vars)
    assert int(ds["X"].notnull().sum()) > 0
    assert main([*argv, "--tolerance", "60s", "--variables", "nope"]) == 1
    one_error_line(capsys.readouterr().err, "join")


def test_join_with_station_map_no_write(store_copy, capsys):
    argv = ["--store", str(store_copy), "join", "classes/5577", "ceilometer", "--tolerance"]
    argv += ["60s", "--variables", "cbh", "--stations", "nya=nya,lyr=nya", "--no-write"]
    groups = tame_xr.Store(store_copy).groups()
    assert main(argv) == 0
    assert "not written" in capsys.readouterr().out
    assert tame_xr.Store(store_copy).groups() == groups


def test_catalog_writes_yaml(store_copy, tmp_path, capsys):
    import yaml

    path = tmp_path / "cat.yaml"
    assert main(["--store", str(store_copy), "catalog", "--output", str(path)]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    sources = yaml.safe_load(path.read_text())["sources"]
    assert {"asim_5577", "classes_5577", "magnetometer"} <= set(sources)


def test_figures(store_copy, tmp_path, capsys):
    if importlib.util.find_spec("tame_xr.figures") is None:
        pytest.skip("tame_xr.figures is not there yet (the lead adds it)")
    assert main(["--store", str(store_copy), "figures", "--output", str(tmp_path)]) == 0
    paths = [Path(line) for line in capsys.readouterr().out.splitlines()]
    assert paths and all(p.is_file() and p.suffix == ".png" for p in paths)
