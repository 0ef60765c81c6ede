"""Keograms: a north–south slice through the zenith of all-sky images against time.

:func:`keogram` takes the central image column(s) of one station — the meridian through the
zenith, assuming the camera's ``y`` axis runs north (row 0) to south as for the UiO/KHO
all-sky imagers — and stacks them along time. Only the needed columns are read: the image
variable is sliced (``isel``) before anything is loaded, so a lazy, dask-backed group stays
cheap however many images it holds.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["keogram"]


def keogram(
    images: xr.Dataset,
    *,
    station: str | None = None,
    classes: xr.Dataset | None = None,
    width: int = 3,
    variable: str = "image",
) -> xr.Dataset:
    """North–south keogram of one station's all-sky images.

    Parameters
    ----------
    images
        An image group: ``image(time, station, y, x)`` (an extra ``channel`` dim is averaged)
        and optionally ``valid(time, station)``.
    station
        Station code (default: the first of the group).
    classes
        Optional classes group; its ``predicted(time, station)`` for the station becomes the
        class strip ``predicted(time)`` (−1 where there is none).
    width
        Number of central columns averaged (the ``width`` columns centred on ``x // 2``).
    variable
        Name of the image variable.

    Returns
    -------
    xarray.Dataset
        ``keogram(time, y)`` float32 (mean of the central columns; NaN where the image is
        not valid), ``predicted(time)`` int8 with ``classes``; attrs ``station``,
        ``columns`` (first and last column used) and ``orientation``.
    """
    if variable not in images:
        raise KeyError(f"no {variable!r} variable in the images; it has {list(images.data_vars)}")
    codes = [str(s) for s in np.atleast_1d(images["station"].values)]
    code = codes[0] if station is None else str(station)
    if code not in codes:
        raise KeyError(f"station {code!r} not in the images; they have {codes}")
    image = images[variable].sel(station=code)
    nx = image.sizes["x"]
    width = int(max(1, min(width, nx)))
    first = nx // 2 - width // 2
    columns = image.isel(x=slice(first, first + width))
    if "channel" in columns.dims:
        columns = columns.mean("channel")
    keo = columns.astype(np.float32).mean("x").transpose("time", "y")
    if "valid" in images:
        keo = keo.where(images["valid"].sel(station=code).astype(bool))
    keo = keo.compute().astype(np.float32)
    if "y" not in keo.coords:
        keo = keo.assign_coords(y=np.arange(keo.sizes["y"]))
    keo.attrs = {
        "long_name": f"mean of image columns {first}–{first + width - 1} (north–south slice)",
        "units": images[variable].attrs.get("units", "counts"),
    }
    out = xr.Dataset(
        {"keogram": keo.drop_vars([c for c in keo.coords if c not in ("time", "y")])},
        attrs={
            "title": f"Keogram, {code}",
            "station": code,
            "columns": [first, first + width - 1],
            "orientation": "y: image rows, row 0 north (top of the image) to south",
        },
    )
    if classes is not None:
        pred = classes["predicted"].sel(station=code).reindex(time=out["time"])
        pred = pred.fillna(-1).astype(np.int8).compute()
        labels = classes["label"].values if "label" in classes.coords else None
        attrs = {"long_name": "predicted class", "missing": -1}
        if labels is not None:
            attrs["labels"] = [str(v) for v in labels]
        drop = [c for c in pred.coords if c != "time"]
        out["predicted"] = pred.drop_vars(drop).assign_attrs(attrs)
    return out
