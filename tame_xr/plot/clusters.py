"""Figure of :func:`tame_xr.analysis.cluster_features`: the 2-D embedding by class."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ._common import CLASS_ORDER, class_color, new_figure

__all__ = ["plot_clusters"]


def _examples(result: xr.Dataset, n: int) -> np.ndarray:
    """Deterministic example cells, spread over the clusters and from centre to edge."""
    emb = result["embedding"].values
    clusters = result["cell_cluster"].values
    codes = np.unique(clusters)
    per = -(-n // max(1, len(codes)))  # ceil
    rows = []
    for k in codes:
        idx = np.flatnonzero(clusters == k)
        dist = ((emb[idx] - np.median(emb[idx], axis=0)) ** 2).sum(1)
        ordered = idx[np.argsort(dist, kind="stable")]
        # from the cell nearest the cluster's centre to its 80th percentile of distance
        rows.append(ordered[np.unique(np.linspace(0, 0.8 * (len(ordered) - 1), per).astype(int))])
    picks = [r[i] for i in range(per) for r in rows if i < len(r)]  # round robin
    return np.asarray(picks[:n], dtype=int)


def _thumbnail(images: xr.Dataset, time, station) -> np.ndarray:
    image = images["image"].sel(time=time, station=station)
    if "channel" in image.dims:
        image = image.mean("channel")
    return np.asarray(image.values, dtype=np.float32)


def plot_clusters(
    result: xr.Dataset, images: xr.Dataset | None = None, n_examples: int = 12
) -> Figure:
    """Scatter of the 2-D embedding coloured by predicted class, with example images.

    Parameters
    ----------
    result
        Output of :func:`tame_xr.analysis.cluster_features` (with ``predicted`` when it was
        given classes; otherwise the points are coloured by cluster).
    images
        Optional image group; ``n_examples`` cells (spread over the clusters: the cells
        nearest each cluster's centre in the embedding and then further out, always the
        same ones) are shown as small images at their place in the embedding.
    n_examples
        Number of example images.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    fig, ax = new_figure(figsize=(8.0, 6.5))
    emb = result["embedding"].values
    axes = [str(a) for a in result["axis"].values]
    if "predicted" in result:
        pred = result["predicted"].values
        labels = (
            [str(v) for v in result["label"].values] if "label" in result.coords else CLASS_ORDER
        )
        for code, name in enumerate(labels):
            sel = pred == code
            if sel.any():
                ax.scatter(*emb[sel].T, s=8, color=class_color(name), label=name, alpha=0.7)
        if (pred < 0).any():
            ax.scatter(*emb[pred < 0].T, s=8, color="#bbbbbb", label="no class", alpha=0.7)
        ax.legend(title="predicted class", markerscale=2, fontsize="small", loc="best")
    else:
        clusters = result["cell_cluster"].values
        points = ax.scatter(*emb.T, s=8, c=clusters, cmap="tab10", alpha=0.7)
        fig.colorbar(points, ax=ax, label="cluster")
    if images is not None and n_examples > 0:
        for cell in _examples(result, n_examples):
            time, station = result["time"].values[cell], result["station"].values[cell]
            thumb = _thumbnail(images, time, station)
            box = OffsetImage(thumb, cmap="gray", zoom=28.0 / max(thumb.shape))
            color = "black"
            if "predicted" in result and result["predicted"].values[cell] >= 0:
                color = class_color(labels[int(result["predicted"].values[cell])])
            ax.add_artist(
                AnnotationBbox(box, emb[cell], frameon=True, pad=0.1, bboxprops={"ec": color})
            )
    pretty = {"pc1": "PC 1", "pc2": "PC 2", "umap1": "UMAP 1", "umap2": "UMAP 2"}
    ax.set_xlabel(pretty.get(axes[0], axes[0]))
    ax.set_ylabel(pretty.get(axes[1], axes[1]))
    title = f"Feature clusters ({result.sizes['cluster']} k-means clusters, {len(emb)} images)"
    if "ari" in result:
        title += f"\nadjusted Rand index vs predicted classes: {float(result['ari']):.3f}"
    ax.set_title(title)
    return fig
