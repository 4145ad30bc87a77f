"""Files the streaming sources read, written from scikit-learn's digits: an image folder, a TFRecord, an .npz."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = {"image": {"shape": [8, 8, 1], "dtype": "float32"}, "label": {"dtype": "int64"}}


def digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` digits as 8x8 uint8 images (0..255) and their labels."""
    from sklearn.datasets import load_digits

    loaded = load_digits()
    return (loaded.images[:count] * 255 / 16).astype(np.uint8), loaded.target[:count]


def png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image_folder(folder: Path, count: int = 300, split_folders: bool = False) -> Path:
    """Digits as PNG files in a folder per class; with `split_folders`, every fifth of a class under val/, the rest
    under train/."""
    images, labels = digits(count)
    for i, (image, label) in enumerate(zip(images, labels)):
        part = ("val" if (labels[:i] == label).sum() % 5 == 4 else "train") if split_folders else ""
        (folder / part / str(label)).mkdir(parents=True, exist_ok=True)
        (folder / part / str(label) / f"{i}.png").write_bytes(png(image))
    return folder


def write_tfrecord(path: Path, count: int = 400, encoded: bool = False) -> Path:
    """Digits as tf.train.Example records: `image` a float_list of 64 values in [0, 1] (or one PNG), `label` an
    int64."""
    import tensorflow as tf

    images, labels = digits(count)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for image, label in zip(images, labels):
            pixels = (tf.train.Feature(bytes_list=tf.train.BytesList(value=[png(image)])) if encoded else
                      tf.train.Feature(float_list=tf.train.FloatList(value=(image / 255).ravel())))
            features = {"image": pixels, "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    return path


def tfrecord_data(path: Path, **changes: Any) -> dict[str, Any]:
    """The `data:` mapping of a file written by write_tfrecord."""
    return {"source": f"tfrecord:{path}", "features": FEATURES, "num_classes": 10, **changes}
