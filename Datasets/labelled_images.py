"""XbarSim labelled-image files (Datasets/FORMAT.md): read and write with numpy and h5py.

    from labelled_images import write_dataset, read_dataset
"""
from __future__ import annotations

import numpy as np

FORMAT_NAME = "xbarsim-dataset"
FORMAT_VERSION = 1


class DatasetFileError(Exception):
    """A malformed dataset file; the message names the file and field."""


def write_dataset(path: str, images, labels, class_names, *, mean=None, std=None, train_images=None,
                  train_labels=None, description: str = "", normalized: bool = False) -> None:
    """Writes a labelled-image file. ``images``: uint8 (N, C, H, W) pixels (or float32 already normalised
    with ``normalized=True``); ``labels``: ints in 0..K-1; ``mean``/``std``: per-channel normalisation of
    pixels scaled to 0..1 (default 0.5 / 0.25 per channel; stored so a model exported from this file uses it)."""
    import h5py
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DatasetFileError(f"{path}: images have shape {x.shape}, expected (N, C, H, W) with C = 1 or 3")
    if normalized:
        x = x.astype(np.float32)
    elif x.dtype != np.uint8:
        raise DatasetFileError(f"{path}: images have dtype {x.dtype}; pass uint8 pixels, or normalized=True for float32")
    y = np.asarray(labels, np.int64).reshape(-1)
    names = [str(c) for c in class_names]
    k = len(names)
    if y.shape != (x.shape[0],):
        raise DatasetFileError(f"{path}: {y.shape[0]} labels for {x.shape[0]} images")
    if k < 1 or y.min() < 0 or y.max() >= k:
        raise DatasetFileError(f"{path}: labels must be in 0..{k - 1} ({k} class names), found {y.min()}..{y.max()}")
    c = x.shape[1]
    mean = np.asarray(mean if mean is not None else [0.5] * c, np.float64).reshape(-1)
    std = np.asarray(std if std is not None else [0.25] * c, np.float64).reshape(-1)
    if mean.shape != (c,) or std.shape != (c,) or not np.all(std > 0):
        raise DatasetFileError(f"{path}: mean/std need {c} values (std > 0)")
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["normalized"] = np.int64(1 if normalized else 0)
        f.attrs["normalization_mean"] = mean
        f.attrs["normalization_std"] = std
        f.attrs["description"] = description
        f.attrs.create("class_names", np.asarray(names, dtype=object), dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("images", data=x, compression="gzip")
        f.create_dataset("labels", data=y)
        if train_images is not None:
            tx = np.asarray(train_images).astype(x.dtype)
            ty = np.asarray(train_labels, np.int64).reshape(-1)
            if tx.ndim != 4 or tx.shape[1:] != x.shape[1:] or ty.shape != (tx.shape[0],):
                raise DatasetFileError(f"{path}: train_images {tx.shape} / train_labels {ty.shape} do not match the images {x.shape[1:]}")
            if ty.min() < 0 or ty.max() >= k:
                raise DatasetFileError(f"{path}: train_labels must be in 0..{k - 1}")
            f.create_dataset("train_images", data=tx, compression="gzip")
            f.create_dataset("train_labels", data=ty)


def read_dataset(path: str) -> dict:
    """Reads and checks a labelled-image file: images (uint8 or float32), labels, class_names, mean, std,
    normalized, and train_images / train_labels when present."""
    import h5py
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DatasetFileError(f"{path}: cannot open as HDF5 ({e})") from None
    with f:
        if f.attrs.get("format") != FORMAT_NAME:
            raise DatasetFileError(f"{path}: attribute format is {f.attrs.get('format')!r}, expected {FORMAT_NAME!r}")
        if int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise DatasetFileError(f"{path}: format_version {f.attrs.get('format_version')} is not supported")
        for k in ("images", "labels"):
            if k not in f:
                raise DatasetFileError(f"{path}: missing dataset /{k}")
        x, y = f["images"][()], f["labels"][()].astype(np.int64)
        names = [s.decode() if isinstance(s, bytes) else str(s) for s in np.asarray(f.attrs["class_names"]).reshape(-1)]
        out = {"images": x, "labels": y, "class_names": names, "normalized": bool(int(f.attrs.get("normalized", 0))),
               "mean": tuple(float(v) for v in f.attrs["normalization_mean"]),
               "std": tuple(float(v) for v in f.attrs["normalization_std"])}
        if "train_images" in f:
            out["train_images"], out["train_labels"] = f["train_images"][()], f["train_labels"][()].astype(np.int64)
    if x.ndim != 4 or y.shape != (x.shape[0],):
        raise DatasetFileError(f"{path}: images {x.shape} and labels {y.shape} do not match")
    if y.size and (y.min() < 0 or y.max() >= len(names)):
        raise DatasetFileError(f"{path}: labels out of range 0..{len(names) - 1}")
    return out
