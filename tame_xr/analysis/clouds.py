"""Cloud analyses with a ceilometer (TAME, Sado et al. 2022): daily coverage and cloud ROC.

:func:`daily_cloud_coverage` summarises a ceilometer group per UTC day, station and season;
:func:`cloud_roc` scores the classifier's cloudy probability against the ceilometer.

Both keep the ceilometer group's three cell states apart (see
:mod:`tame_xr.io.ceilometer`): "no measurement" (``valid`` False) is never counted as clear
sky; "no cloud" (``valid`` True, ``cloud_detected`` False) is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["cloud_roc", "daily_cloud_coverage", "season_label"]


def season_label(year: int, month: int) -> str:
    """Winter season of a month: July–June, ``"2014/15"`` for Nov 2014 … Feb 2015."""
    start = year if month >= 7 else year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def _cells(ceilometer: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """``valid``, ``cloud_detected`` and ``cbh`` (NaN unless a cloud was measured)."""
    missing = [n for n in ("cbh", "cloud_detected") if n not in ceilometer]
    if missing:
        raise KeyError(f"ceilometer Dataset lacks {missing}; expected the ceilometer group")
    cbh = ceilometer["cbh"]
    if "valid" in ceilometer:
        valid = ceilometer["valid"].astype(bool)
    else:  # an older layout: every cell is a measurement
        valid = xr.ones_like(cbh, dtype=bool)
    cloud = ceilometer["cloud_detected"].fillna(False).astype(bool) & valid
    return valid, cloud, cbh.where(cloud)


def daily_cloud_coverage(
    ceilometer: xr.Dataset,
    *,
    months: Sequence[int] = (11, 12, 1, 2),
    clear_cbh: float | None = None,
) -> xr.Dataset:
    """Daily no-cloud fraction and mean cloud base height per station and season.

    Parameters
    ----------
    ceilometer : xarray.Dataset
        The ceilometer group: ``cbh(time, station)`` (m), ``cloud_detected`` and ``valid``
        (without ``valid`` every cell counts as a measurement).
    months : sequence of int
        Months kept (TAME: November–February).
    clear_cbh : float, optional
        If given (m), cloud bases at or above it also count as "no cloud" (TAME's cloud
        ROC uses 2000 m). ``mean_cbh`` still averages all detected clouds.

    Returns
    -------
    xarray.Dataset
        Dims ``day`` (UTC day start, only days of ``months`` with at least one row),
        ``station`` and ``season_label``:

        * ``no_cloud_fraction(day, station)``: share of valid measurements with no cloud
          (NaN on days without measurements — "no measurement" never counts as clear);
        * ``mean_cbh(day, station)``: mean cloud base height over detected clouds (m);
        * ``n_measurements``, ``n_no_cloud``, ``n_cloud (day, station)``: counts;
        * ``season(day)``: winter season label, July–June (``"2014/15"``);
        * ``season_no_cloud_fraction(season_label, station)``: no-cloud measurements over
          all measurements of the season (measurement-weighted, not a mean of days);
        * ``season_mean_cbh(season_label, station)``: mean of all cloud bases of the season;
        * ``season_n_measurements``, ``season_n_days`` (days with measurements).
    """
    months = tuple(int(m) for m in months)
    valid, cloud, cbh = _cells(ceilometer)
    time = ceilometer["time"]
    keep = time.dt.month.isin(list(months))
    no_cloud = valid & ~cloud
    if clear_cbh is not None:
        no_cloud = no_cloud | (cloud & (cbh >= float(clear_cbh)))
    parts = xr.Dataset(
        {
            "n_measurements": valid.astype("int64"),
            "n_no_cloud": no_cloud.astype("int64"),
            "n_cloud": cloud.astype("int64"),
            "cbh_sum": cbh.fillna(0.0).astype("float64"),
        }
    ).isel(time=np.flatnonzero(np.asarray(keep.values)))
    if parts.sizes["time"] == 0:
        raise ValueError(f"no ceilometer times in months {months}")
    day = parts["time"].dt.floor("D").rename("day")
    daily = parts.groupby(day).sum().compute()
    daily = daily.transpose("day", "station", ...) if "station" in daily.dims else daily
    years = daily["day"].dt.year.values
    mons = daily["day"].dt.month.values
    seasons = [season_label(int(y), int(m)) for y, m in zip(years, mons, strict=True)]
    daily = daily.assign_coords(season=("day", np.array(seasons, dtype=object)))
    n = daily["n_measurements"]
    out = xr.Dataset(
        {
            "no_cloud_fraction": (daily["n_no_cloud"] / n.where(n > 0)).astype("float32"),
            "mean_cbh": (daily["cbh_sum"] / daily["n_cloud"].where(daily["n_cloud"] > 0)),
            "n_measurements": n,
            "n_no_cloud": daily["n_no_cloud"],
            "n_cloud": daily["n_cloud"],
        }
    )
    out["mean_cbh"] = out["mean_cbh"].astype("float32")
    per_season = daily.groupby("season").sum().rename(season="season_label")
    days_with = (n > 0).groupby("season").sum().rename(season="season_label")
    sn = per_season["n_measurements"]
    sc = per_season["n_cloud"]
    out = out.assign(
        season_no_cloud_fraction=(per_season["n_no_cloud"] / sn.where(sn > 0)).astype("float32"),
        season_mean_cbh=(per_season["cbh_sum"] / sc.where(sc > 0)).astype("float32"),
        season_n_measurements=sn,
        season_n_days=days_with,
    )
    _set_attrs(out, months, clear_cbh)
    return out


def _set_attrs(out: xr.Dataset, months, clear_cbh) -> None:
    fraction = "share of valid ceilometer measurements with no cloud detected"
    if clear_cbh is not None:
        fraction += f" or a cloud base at or above {clear_cbh:g} m"
    attrs = {
        "no_cloud_fraction": {"units": "1", "long_name": f"daily {fraction}"},
        "mean_cbh": {"units": "m", "long_name": "daily mean cloud base height of detected clouds"},
        "n_measurements": {"units": "1", "long_name": "number of valid measurements"},
        "n_no_cloud": {"units": "1", "long_name": "number of measurements counted as no cloud"},
        "n_cloud": {"units": "1", "long_name": "number of measurements with a cloud base"},
        "season_no_cloud_fraction": {"units": "1", "long_name": f"seasonal {fraction}"},
        "season_mean_cbh": {"units": "m", "long_name": "seasonal mean cloud base height"},
        "season_n_measurements": {"units": "1", "long_name": "valid measurements in season"},
        "season_n_days": {"units": "1", "long_name": "days with measurements in season"},
    }
    for name, a in attrs.items():
        out[name].attrs.update(a)
    out["day"].attrs.update({"long_name": "UTC day (start)"})
    out["season"].attrs.update({"long_name": "winter season (July–June)"})
    out.attrs.update(
        {
            "title": "Daily cloud coverage from ceilometer",
            "months": list(months),
            "clear_cbh": "none" if clear_cbh is None else float(clear_cbh),
        }
    )


def cloud_roc(
    classes: xr.Dataset,
    ceilometer: xr.Dataset,
    *,
    tolerance: str | pd.Timedelta | dt.timedelta = "60s",
    cbh_clear: float = 2000.0,
    stations: Mapping[str, str] | None = None,
    drop_intermediate: bool = True,
) -> xr.Dataset:
    """ROC of the classifier's cloud detection against a ceilometer (TAME's cloud ROC).

    The ceilometer is joined onto the classes' times with :func:`tame_xr.join_nearest`
    (per station, or through ``stations``: classes station → ceilometer station). Truth:
    **clear** (the positive class) when no cloud was detected or the cloud base is at or
    above ``cbh_clear``; cloudy otherwise. Score: ``1 − P(cloudy)``; a cell is called clear
    when its score is ≥ the threshold. Cells without a valid image (``valid`` False or
    probabilities missing) or without a ceilometer measurement within ``tolerance`` are
    dropped.

    Parameters
    ----------
    classes : xarray.Dataset
        A classes group: ``proba(time, station, label)`` with a ``cloudy`` label, ``valid``.
    ceilometer : xarray.Dataset
        A ceilometer group (``cbh``, ``cloud_detected``, ``valid``).
    tolerance : str or timedelta
        Largest time difference of the join (default 60 s).
    cbh_clear : float
        Cloud base height (m) from which a cloud counts as clear sky (TAME: 2000 m).
    stations : mapping, optional
        Classes station → ceilometer station (default: same codes).
    drop_intermediate : bool
        Passed to :func:`sklearn.metrics.roc_curve` (dropping collinear points changes
        neither the AUC nor the best accuracy).

    Returns
    -------
    xarray.Dataset
        Along ``threshold`` (descending, from :func:`sklearn.metrics.roc_curve`; its first
        threshold, ``inf``, becomes 1.0 — or the next float above 1 if a score equals 1):
        ``fpr``, ``tpr``, ``accuracy``. Scalars: ``auc``; ``fpr_at_tpr95`` and
        ``threshold_at_tpr95`` (first point with TPR ≥ 0.95); ``tpr_at_fpr05`` and
        ``threshold_at_fpr05`` (last point with FPR ≤ 0.05); ``best_accuracy``,
        ``best_threshold``; counts ``n_used``, ``n_dropped`` (= ``n_no_image`` +
        ``n_no_ceilometer``), ``n_no_image``, ``n_no_ceilometer``, ``n_clear``,
        ``n_cloudy``.
    """
    from sklearn.metrics import auc, roc_curve

    from ..join import join_nearest

    if "cloudy" not in classes["label"].values:
        raise KeyError("classes has no 'cloudy' label")
    base = classes[["proba"] + (["valid"] if "valid" in classes else [])]
    joined = join_nearest(
        base,
        ceilometer,
        tolerance,
        variables=["cbh", "cloud_detected"],
        stations=stations,
    ).compute()
    p_cloudy = joined["proba"].sel(label="cloudy", drop=True)
    image_ok = joined["proba"].notnull().all("label")
    if "valid" in joined:
        image_ok = image_ok & joined["valid"].astype(bool)
    ceil_ok = joined["time_difference"].notnull()
    used = (image_ok & ceil_ok).values
    cloud = joined["cloud_detected"].fillna(0).astype(bool)
    clear = (~cloud) | (joined["cbh"] >= float(cbh_clear))
    y = np.asarray(clear.values)[used].astype(bool)
    score = 1.0 - np.asarray(p_cloudy.values, dtype="float64")[used]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"cloud ROC needs both clear and cloudy cells; got {n_pos} clear and {n_neg} "
            f"cloudy among {used.sum()} usable cells"
        )
    fpr, tpr, thr = roc_curve(y, score, drop_intermediate=drop_intermediate)
    thr = np.asarray(thr, dtype="float64")
    top = np.nextafter(1.0, 2.0) if score.max() >= 1.0 else 1.0
    thr[0] = top if not np.isfinite(thr[0]) or thr[0] > 1.0 else thr[0]
    acc = (tpr * n_pos + (1.0 - fpr) * n_neg) / (n_pos + n_neg)
    i95 = int(np.flatnonzero(tpr >= 0.95)[0])
    i05 = int(np.flatnonzero(fpr <= 0.05)[-1])
    ibest = int(np.argmax(acc))
    n_img = int(image_ok.sum())
    n_total = int(image_ok.size)
    scalars = {
        "auc": (float(auc(fpr, tpr)), "area under the ROC curve"),
        "fpr_at_tpr95": (float(fpr[i95]), "false positive rate at the first TPR >= 0.95"),
        "threshold_at_tpr95": (float(thr[i95]), "threshold of the TPR >= 0.95 point"),
        "tpr_at_fpr05": (float(tpr[i05]), "true positive rate at the last FPR <= 0.05"),
        "threshold_at_fpr05": (float(thr[i05]), "threshold of the FPR <= 0.05 point"),
        "best_accuracy": (float(acc[ibest]), "highest accuracy over thresholds"),
        "best_threshold": (float(thr[ibest]), "threshold of the highest accuracy"),
        "n_used": (int(used.sum()), "cells with an image and a ceilometer measurement"),
        "n_dropped": (n_total - int(used.sum()), "cells left out"),
        "n_no_image": (n_total - n_img, "cells without a valid image"),
        "n_no_ceilometer": (n_img - int(used.sum()), "image cells without a measurement"),
        "n_clear": (n_pos, "used cells that are clear (positives)"),
        "n_cloudy": (n_neg, "used cells that are cloudy (negatives)"),
    }
    ds = xr.Dataset(
        {
            "fpr": ("threshold", fpr, {"units": "1", "long_name": "false positive rate"}),
            "tpr": ("threshold", tpr, {"units": "1", "long_name": "true positive rate"}),
            "accuracy": ("threshold", acc, {"units": "1", "long_name": "accuracy"}),
            **{k: ((), v, {"long_name": d}) for k, (v, d) in scalars.items()},
        },
        coords={
            "threshold": (
                "threshold",
                thr,
                {"units": "1", "long_name": "threshold on 1 - P(cloudy); clear if score >= it"},
            )
        },
    )
    ds.attrs.update(
        {
            "title": "Cloud ROC: classifier vs ceilometer",
            "positive_class": "clear",
            "score": "1 - P(cloudy)",
            "truth": f"clear if no cloud detected or cbh >= {cbh_clear:g} m",
            "cbh_clear": float(cbh_clear),
            "tolerance": str(pd.Timedelta(tolerance)),
        }
    )
    return ds
