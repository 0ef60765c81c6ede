"""Features → six class probabilities: TAME's linear SVM, fitted on labelled OATH images.

:class:`OathClassifier` follows scikit-learn's conventions (``fit`` returns self, learned
attributes end in ``_``, ``get_params``/``set_params``) and speaks xarray: it takes the
``features`` of :func:`tame_xr.extract_features` and returns ``proba(..., label)``.

TAME used ``SVC(kernel="linear", probability=True)``. scikit-learn 1.9 deprecates
``probability=True`` in favour of ``CalibratedClassifierCV(SVC(), ensemble=False)`` with
sigmoid (Platt) calibration — the same method, calibrated one-vs-rest — which is what is used
here. Saved classifiers are skops files loaded against an explicit allow-list of types: a
file that names any other type (one that could run code) is refused before anything in it is
built. The file's sha256 goes into the attrs of everything the classifier labels.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import xarray as xr
from sklearn.base import BaseEstimator, ClassifierMixin

from ._version import __version__

CLASS_NAMES = ("arc", "diffuse", "discrete", "cloudy", "moon", "clear")
AURORA_CLASSES = (0, 1, 2)
LINEAR_C = np.logspace(-5, 0, 6)
RBF_C = np.logspace(-1, 3, 5)
RBF_GAMMA = np.logspace(-6, -2, 5)
#: Types a saved classifier may contain (beyond skops' default-trusted builtins and numpy).
ALLOWED_TYPES = frozenset(
    {
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.svm._classes.SVC",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.preprocessing._label.LabelEncoder",
    }
)


class UnsafeClassifierFileError(ValueError):
    """A classifier file names types outside the allow-list; nothing in it was built."""


def _matrix(features) -> np.ndarray:
    """An (n, feature) float32 matrix from features (Dataset, DataArray or array)."""
    if isinstance(features, xr.Dataset):
        features = features["features"]
    if isinstance(features, xr.DataArray):
        lead = [d for d in features.dims if d != "feature"]
        values = features.transpose(*lead, "feature").values
        return np.asarray(values, dtype=np.float32).reshape(-1, features.sizes["feature"])
    return np.asarray(features, dtype=np.float32)


def _labels(labels, features) -> np.ndarray:
    if labels is None:
        source = features if isinstance(features, (xr.Dataset, xr.DataArray)) else None
        if source is None or "class6" not in source.coords:
            raise ValueError("no labels: pass labels= or features with a 'class6' coordinate")
        labels = source["class6"]
    return np.asarray(labels).astype(int).ravel()


class OathClassifier(ClassifierMixin, BaseEstimator):
    """TAME's six-class aurora classifier on CNN features.

    Parameters
    ----------
    kernel
        ``"linear"`` (TAME's choice) or ``"rbf"``.
    C, gamma
        SVM parameters (``gamma`` for the RBF kernel).
    standardize
        Scale features to zero mean and unit variance first.
    cv
        Folds of the sigmoid (Platt) probability calibration.
    random_state
        Seed for the calibration folds.

    Attributes
    ----------
    pipeline_ : the fitted scikit-learn estimator
    classes_ : class indices seen in training (subset of 0..5)
    feature_attrs_ : backbone, weights sha256 and preprocessing of the training features
    sha256_ : sha256 of the file this classifier was saved to or loaded from (or None)
    """

    def __init__(
        self, kernel="linear", C=1.0, gamma="scale", standardize=True, cv=5, random_state=0
    ):
        self.kernel = kernel
        self.C = C
        self.gamma = gamma
        self.standardize = standardize
        self.cv = cv
        self.random_state = random_state

    def _estimator(self):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        svc = SVC(kernel=self.kernel, C=self.C, gamma=self.gamma, random_state=self.random_state)
        calibrated = CalibratedClassifierCV(svc, method="sigmoid", cv=self.cv, ensemble=False)
        return (
            make_pipeline(StandardScaler(), calibrated)
            if self.standardize
            else make_pipeline(calibrated)
        )

    def fit(self, features, labels=None) -> OathClassifier:
        """Fit on ``features`` (rows with NaN are dropped) and class6 ``labels``."""
        X = _matrix(features)
        y = _labels(labels, features)
        keep = np.isfinite(X).all(axis=1)
        self.pipeline_ = self._estimator().fit(X[keep], y[keep])
        self.classes_ = np.asarray(self.pipeline_.classes_, dtype=int)
        attrs = features.attrs if isinstance(features, (xr.Dataset, xr.DataArray)) else {}
        self.feature_attrs_ = {
            k: str(attrs[k])
            for k in ("backbone", "layer", "weights_sha256", "preprocess_version")
            if k in attrs
        }
        self.n_features_in_ = X.shape[1]
        self.sha256_ = None
        return self

    def _check_features(self, features) -> None:
        attrs = features.attrs if isinstance(features, (xr.Dataset, xr.DataArray)) else {}
        for key, value in getattr(self, "feature_attrs_", {}).items():
            if key in attrs and str(attrs[key]) != value:
                raise ValueError(
                    f"features have {key}={attrs[key]!r} but the classifier was trained on "
                    f"{value!r}: extract features the same way or retrain"
                )

    def _proba_matrix(self, X: np.ndarray) -> np.ndarray:
        out = np.full((len(X), len(CLASS_NAMES)), np.nan, dtype=np.float32)
        ok = np.isfinite(X).all(axis=1)
        if ok.any():
            out[np.ix_(ok, self.classes_)] = self.pipeline_.predict_proba(X[ok])
            out[ok] = np.nan_to_num(out[ok], nan=0.0)
        return out

    def predict_proba(self, features) -> xr.DataArray | np.ndarray:
        """Class probabilities ``proba(..., label)`` (NaN where the features are NaN).

        Lazy (dask-backed) features give lazy probabilities, computed chunk by chunk.
        """
        self._check_features(features)
        if isinstance(features, xr.Dataset):
            features = features["features"]
        if not isinstance(features, xr.DataArray):
            return self._proba_matrix(np.asarray(features, dtype=np.float32))
        if features.chunks is not None:
            features = features.chunk({"feature": -1})
        proba = xr.apply_ufunc(
            self._proba_block,
            features,
            input_core_dims=[["feature"]],
            output_core_dims=[["label"]],
            dask="parallelized",
            output_dtypes=[np.float32],
            dask_gufunc_kwargs={"output_sizes": {"label": len(CLASS_NAMES)}},
        )
        return proba.assign_coords(label=np.array(CLASS_NAMES, dtype=object)).assign_attrs(
            long_name="class probability", units="1"
        )

    def _proba_block(self, block: np.ndarray) -> np.ndarray:
        flat = block.reshape(-1, block.shape[-1]).astype(np.float32, copy=False)
        return self._proba_matrix(flat).reshape(*block.shape[:-1], len(CLASS_NAMES))

    def predict(self, features):
        """Most probable class index (-1 where the features are NaN)."""
        proba = self.predict_proba(features)
        if isinstance(proba, xr.DataArray):
            return _argmax_label(proba)
        best = np.nan_to_num(proba, nan=-1.0).argmax(-1)
        return np.where(np.isnan(proba).any(-1), -1, best)

    def classify(self, features) -> xr.Dataset:
        """``proba``, ``aurora_proba`` and ``predicted`` (class index) as a Dataset."""
        proba = self.predict_proba(features)
        if not isinstance(proba, xr.DataArray):
            raise TypeError("classify needs xarray features; use predict_proba for arrays")
        out = xr.Dataset(
            {
                "proba": proba,
                "aurora_proba": proba.isel(label=list(AURORA_CLASSES))
                .sum("label", min_count=1)
                .assign_attrs(
                    long_name="probability of aurora (arc, diffuse or discrete)", units="1"
                ),
                "predicted": _argmax_label(proba).assign_attrs(
                    long_name="predicted class (-1: no image)",
                    flag_values=np.arange(6, dtype=np.int8),
                    flag_meanings=" ".join(CLASS_NAMES),
                ),
            }
        )
        if isinstance(features, xr.Dataset) and "valid" in features:
            out["valid"] = features["valid"]
        out.attrs = {
            "title": "TAME class probabilities",
            "classifier": f"OathClassifier(kernel={self.kernel!r}, C={self.C!r})",
            "classifier_sha256": self.sha256_ or "unsaved",
            "tame_xr_version": __version__,
            **{f"features_{k}": v for k, v in getattr(self, "feature_attrs_", {}).items()},
        }
        return out

    def evaluate(self, features, labels=None) -> xr.Dataset:
        """Six- and two-class accuracy and confusion matrices (rows: true, columns: predicted)."""
        from sklearn.metrics import confusion_matrix

        X = _matrix(features)
        y = _labels(labels, features)
        keep = np.isfinite(X).all(axis=1)
        pred = np.asarray(self.predict(X[keep]))
        y = y[keep]
        aurora_true, aurora_pred = np.isin(y, AURORA_CLASSES), np.isin(pred, AURORA_CLASSES)
        names2 = np.array(["aurora", "no_aurora"], dtype=object)
        return xr.Dataset(
            {
                "accuracy6": ((), float(np.mean(pred == y)), {"long_name": "six-class accuracy"}),
                "accuracy2": (
                    (),
                    float(np.mean(aurora_true == aurora_pred)),
                    {"long_name": "aurora / no-aurora accuracy"},
                ),
                "confusion6": (
                    ("true_label", "predicted_label"),
                    confusion_matrix(y, pred, labels=range(6)),
                ),
                "confusion2": (
                    ("true_aurora", "predicted_aurora"),
                    confusion_matrix(~aurora_true, ~aurora_pred, labels=[False, True]),
                ),
                "n_samples": ((), int(len(y))),
            },
            coords={
                "true_label": np.array(CLASS_NAMES, dtype=object),
                "predicted_label": np.array(CLASS_NAMES, dtype=object),
                "true_aurora": names2,
                "predicted_aurora": names2,
            },
        )

    def grid_search(
        self,
        features,
        labels=None,
        *,
        cv=5,
        linear_C=LINEAR_C,
        rbf_C=RBF_C,
        rbf_gamma=RBF_GAMMA,
        n_jobs=None,
    ) -> xr.Dataset:
        """TAME's grids: linear C, and RBF C × gamma; mean and std of CV accuracy per point.

        Does not change this classifier; pick the best point and ``set_params`` to use it.
        """
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        X = _matrix(features)
        y = _labels(labels, features)
        keep = np.isfinite(X).all(axis=1)
        X, y = X[keep], y[keep]
        folds = StratifiedKFold(cv, shuffle=True, random_state=self.random_state)

        def score(**params):
            est = (
                make_pipeline(StandardScaler(), SVC(**params))
                if self.standardize
                else SVC(**params)
            )
            s = cross_val_score(est, X, y, cv=folds, n_jobs=n_jobs)
            return s.mean(), s.std()

        lin = np.array([score(kernel="linear", C=c) for c in linear_C])
        rbf = np.array([[score(kernel="rbf", C=c, gamma=g) for g in rbf_gamma] for c in rbf_C])
        return xr.Dataset(
            {
                "linear_accuracy_mean": ("C_linear", lin[:, 0]),
                "linear_accuracy_std": ("C_linear", lin[:, 1]),
                "rbf_accuracy_mean": (("C_rbf", "gamma"), rbf[..., 0]),
                "rbf_accuracy_std": (("C_rbf", "gamma"), rbf[..., 1]),
            },
            coords={"C_linear": linear_C, "C_rbf": rbf_C, "gamma": rbf_gamma},
            attrs={"cv_folds": cv, "n_samples": int(len(y))},
        )

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> str:
        """Save as a skops file; returns (and records) the file's sha256."""
        import skops.io as sio

        meta = {
            "params": json.dumps(self.get_params()),
            "classes": [int(c) for c in self.classes_],
            "feature_attrs": json.dumps(self.feature_attrs_),
            "tame_xr_version": __version__,
        }
        sio.dump({"pipeline": self.pipeline_, "meta": meta}, path)
        self.sha256_ = _sha256(path)
        return self.sha256_

    @classmethod
    def load(cls, path: str | os.PathLike) -> OathClassifier:
        """Load a file written by :meth:`save`; refuses files naming types outside the allow-list."""
        import zipfile

        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(file=path)
        except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
            raise UnsafeClassifierFileError(
                f"{path}: not a tame_xr classifier file ({exc})"
            ) from None
        refused = sorted(set(untrusted) - ALLOWED_TYPES)
        if refused:
            raise UnsafeClassifierFileError(
                f"{path}: refuses to load types outside the allow-list: {refused}"
            )
        content = sio.load(path, trusted=list(untrusted))
        if not isinstance(content, dict) or set(content) != {"pipeline", "meta"}:
            raise UnsafeClassifierFileError(f"{path}: not a tame_xr classifier file")
        meta = content["meta"]
        self = cls(**json.loads(meta["params"]))
        self.pipeline_ = content["pipeline"]
        self.classes_ = np.asarray(meta["classes"], dtype=int)
        self.feature_attrs_ = json.loads(meta["feature_attrs"])
        self.sha256_ = _sha256(path)
        return self


def _argmax_label(proba: xr.DataArray) -> xr.DataArray:
    best = proba.fillna(-1.0).argmax("label").astype(np.int8)
    return best.where(proba.notnull().all("label"), -1).astype(np.int8)


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(Path(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fit_oath_classifier(
    oath_features: xr.Dataset, *, split: str | None = "train", **params
) -> OathClassifier:
    """Fit an :class:`OathClassifier` on OATH features (the ``split`` subset when given)."""
    feats = oath_features
    if split is not None and "split" in feats.coords:
        feats = feats.isel(sample=np.flatnonzero(np.asarray(feats["split"]) == split))
    return OathClassifier(**params).fit(feats)
