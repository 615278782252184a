"""CIFAR-10 binary-layout reader shared by train.py and export.py (numpy only)."""
from __future__ import annotations

import os
import sys

import numpy as np

RECORD = 1 + 3 * 32 * 32
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILES = ["test_batch.bin"]
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
DEFAULT_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class DataError(Exception):
    """Bad or missing dataset file; the message names the file."""


def default_data_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.environ.get("XBARSIM_DATA"),
                 os.path.join(here, "..", "Datasets", "cifar-10-batches-bin"),
                 os.path.join(here, "..", "..", "shared", "cifar10", "cifar-10-batches-bin")):
        if cand and os.path.isdir(cand):
            return os.path.normpath(cand)
    return os.path.normpath(os.path.join(here, "..", "..", "shared", "cifar10", "cifar-10-batches-bin"))


def read_batches(data_dir: str, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Returns uint8 images (N,3,32,32) and int64 labels (N,)."""
    images, labels = [], []
    for name in names:
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            raise DataError(f"{path}: missing CIFAR-10 file (run Datasets/download-cifar10.sh or pass --data)")
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % RECORD != 0:
            raise DataError(f"{path}: size {raw.size} bytes is not a positive multiple of {RECORD} (truncated or not CIFAR-10 binary)")
        recs = raw.reshape(-1, RECORD)
        lab = recs[:, 0].astype(np.int64)
        if lab.max() > 9:
            bad = int(np.argmax(lab > 9))
            raise DataError(f"{path}: record {bad} has label {lab[bad]} (expected 0-9)")
        images.append(recs[:, 1:].reshape(-1, 3, 32, 32))
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


def class_names(data_dir: str) -> list[str]:
    path = os.path.join(data_dir, "batches.meta.txt")
    if os.path.isfile(path):
        names = [l.strip() for l in open(path) if l.strip()]
        if len(names) == 10:
            return names
    return list(DEFAULT_CLASSES)


def die(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)
