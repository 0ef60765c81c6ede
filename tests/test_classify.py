"""The OATH classifier: accuracy on the sample, sklearn conventions, safe files, six-line use."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import clone

import tame_xr
from tame_xr.classify import OathClassifier, UnsafeClassifierFileError


def split(feats, name):
    return feats.isel(sample=np.flatnonzero(feats["split"].values == name))


def test_six_class_accuracy_on_sample(sample_oath_features, sample_classifier):
    clf, _ = sample_classifier
    result = clf.evaluate(split(sample_oath_features, "test"))
    assert result["n_samples"] > 40
    assert float(result["accuracy6"]) >= 0.90, result["confusion6"].values
    assert float(result["accuracy2"]) >= float(result["accuracy6"])
    assert result["confusion6"].sum() == result["n_samples"]


def test_sklearn_conventions(sample_oath_features):
    clf = OathClassifier(C=0.1)
    assert clf.get_params()["C"] == 0.1
    assert clf.set_params(C=0.5) is clf and clf.C == 0.5
    fitted = clf.fit(split(sample_oath_features, "train"))
    assert fitted is clf and set(clf.classes_) == set(range(6))
    assert not hasattr(clone(clf), "pipeline_")


def test_proba_is_xarray_and_sums_to_one(sample_oath_features, sample_classifier):
    clf, _ = sample_classifier
    out = clf.classify(sample_oath_features)
    assert out["proba"].dims == ("sample", "label")
    assert list(out["label"].values) == ["arc", "diffuse", "discrete", "cloudy", "moon", "clear"]
    np.testing.assert_allclose(out["proba"].sum("label"), 1.0, atol=1e-5)
    np.testing.assert_allclose(out["aurora_proba"], out["proba"][:, :3].sum("label"), atol=1e-6)
    lazy = clf.predict_proba(sample_oath_features.chunk(sample=16))
    assert lazy.chunks is not None
    np.testing.assert_allclose(lazy.values, out["proba"].values, atol=1e-6)


def test_save_load_roundtrip_and_sha(sample_oath_features, sample_classifier, tmp_path):
    clf, path = sample_classifier
    loaded = OathClassifier.load(path)
    np.testing.assert_allclose(
        loaded.predict_proba(sample_oath_features).values,
        clf.predict_proba(sample_oath_features).values,
        atol=1e-6,
    )
    assert loaded.classify(sample_oath_features).attrs["classifier_sha256"] == loaded.sha256_
    assert len(loaded.sha256_) == 64 and loaded.get_params() == clf.get_params()


def test_crafted_files_do_not_execute(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    as_pickle = tmp_path / "evil.skops"
    as_pickle.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(UnsafeClassifierFileError, match="not a tame_xr classifier"):
        OathClassifier.load(as_pickle)
    import os

    crafted = tmp_path / "crafted.skops"
    sio.dump({"pipeline": os.system, "meta": {"params": "{}"}}, crafted)
    with pytest.raises(UnsafeClassifierFileError, match="allow-list"):
        OathClassifier.load(crafted)
    assert not marker.exists()


def test_features_must_match_training_backbone(sample_oath_features, sample_classifier):
    clf, _ = sample_classifier
    other = sample_oath_features.copy()
    other.attrs = {**other.attrs, "backbone": "shufflenet_v2_x1_0"}
    with pytest.raises(ValueError, match="trained on"):
        clf.predict_proba(other)


def test_grid_search_dataset(sample_oath_features):
    grid = OathClassifier().grid_search(
        split(sample_oath_features, "train"),
        cv=3,
        linear_C=[1e-3, 1.0],
        rbf_C=[1.0],
        rbf_gamma=[1e-4],
    )
    assert grid["linear_accuracy_mean"].dims == ("C_linear",)
    assert grid["rbf_accuracy_mean"].shape == (1, 1)
    assert (grid["linear_accuracy_mean"] <= 1).all() and (grid["linear_accuracy_std"] >= 0).all()


def test_classify_files_on_real_images(shared_data, sample_classifier):
    _, path = sample_classifier
    files = [
        *sorted((shared_data / "oath_mini" / "images" / "cropped_scaled").glob("*.png")),
        *sorted((shared_data / "asim" / "kho").glob("*.jpg")),
        *sorted((shared_data / "asim" / "trex").glob("*.png")),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tame_xr.classify_files(files, classifier=path)
    assert result.sizes["file"] == 13
    np.testing.assert_allclose(result["proba"].sum("label"), 1.0, atol=1e-5)
    kho = [f for f in result["file"].values if "LYR-Sony" in f]
    assert not np.isnat(result["time"].sel(file=kho).values).any()
    assert set(result["predicted_label"].values) <= {
        "arc",
        "diffuse",
        "discrete",
        "cloudy",
        "moon",
        "clear",
    }


def test_classify_files_needs_a_classifier(tmp_path):
    with pytest.raises(ValueError, match="no classifier"):
        tame_xr.classify_files(tmp_path)


def test_accessor_classify_season(sample_dir, sample_classifier):
    clf, _ = sample_classifier
    season = tame_xr.read_images(sample_dir["asim"]).isel(time=slice(0, 8))
    out = season.tame.classify(clf)
    assert out["proba"].dims == ("time", "station", "label")
    assert (out["predicted"].values[~season["valid"].values] == -1).all()


def test_compare_backbones(sample_dir, tmp_path, monkeypatch):
    import torch
    import torchvision

    from tame_xr import backbones

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = backbones.torchvision_weights_path("shufflenet_v2_x1_0")
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.shufflenet_v2_x1_0(weights=None).state_dict(), path)
    oath = tame_xr.read_oath(sample_dir["oath"][0]).isel(sample=slice(0, 90))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the stand-in weights' hash differs
        table = tame_xr.compare_backbones(
            ["efficientnet_lite0", "shufflenet_v2_x1_0"], oath, n_splits=3
        )
    assert list(table["backbone"].values) == ["efficientnet_lite0", "shufflenet_v2_x1_0"]
    assert (table["images_per_s"] > 0).all() and (table["peak_memory_mb"] >= 0).all()
    assert ((table["acc6_mean"] >= 0) & (table["acc6_mean"] <= 1)).all()
    # pretrained features separate the sample's classes; random-init ones do worse
    assert float(table["acc6_mean"][0]) > 0.8
    assert float(table["acc6_mean"][0]) > float(table["acc6_mean"][1])
