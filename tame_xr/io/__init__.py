"""Readers: raw instrument formats → xarray Datasets. Nothing here knows about Zarr."""
