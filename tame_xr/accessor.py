"""``ds.tame``: each method is a thin wrapper over a plain, typed function of tame_xr."""

from __future__ import annotations

import xarray as xr


@xr.register_dataset_accessor("tame")
class TameAccessor:
    """TAME operations on an xarray Dataset (see the functions each method calls)."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def features(self, backbone: str = "efficientnet_lite0", **kw) -> xr.Dataset:
        """:func:`tame_xr.extract_features` of this image Dataset."""
        from .features import extract_features

        return extract_features(self._ds, backbone, **kw)

    def classify(self, classifier, **kw) -> xr.Dataset:
        """Class probabilities: features are extracted first when this holds images.

        ``classifier`` is an :class:`~tame_xr.OathClassifier` or the path of a saved one.
        """
        from .classify import OathClassifier

        if not isinstance(classifier, OathClassifier):
            classifier = OathClassifier.load(classifier)
        ds = self._ds
        if "features" not in ds:
            backbone = classifier.feature_attrs_.get("backbone", "efficientnet_lite0")
            ds = self.features(backbone, **kw)
        return classifier.classify(ds)

    def join_nearest(self, right: xr.Dataset, tolerance, variables=None, **kw) -> xr.Dataset:
        """:func:`tame_xr.join_nearest` with this Dataset on the left."""
        from .join import join_nearest

        return join_nearest(self._ds, right, tolerance, variables, **kw)
