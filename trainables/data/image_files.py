"""The driver's look at an image folder's files before Ray starts, so a corrupt one is named, not met by every trial.

Decoding every image of a large folder would cost what the trials' first epoch costs, so the check is in two
depths: every file of a local folder has its header parsed and its ending read (a copy cut short, the usual
corruption, lacks the format's closing bytes), and DECODED_IN_FULL files spread evenly over the folder (every
file of a smaller one) are decoded whole, their checksums verified. A file whose ending looks wrong is decoded
whole before it is refused, so trailing bytes a decoder ignores pass. A folder behind a URI, where each file is a
request, gets the sample only. A corrupt file this misses is still named: by the trial that fails on it
(`StreamedData.locate`).
"""
from __future__ import annotations

import io
from typing import Any

from tunelab.trainables.data.base import DataError
from tunelab.trainables.data.streaming import image_header

DECODED_IN_FULL = 1000  # images decoded whole on the driver; the others have their header and ending read
ENDINGS = {"PNG": b"IEND\xaeB`\x82", "JPEG": b"\xff\xd9", "GIF": b";"}  # what a complete file of the format ends with
_TAIL = 16  # bytes read at a file's end: a JPEG's end marker may sit before a few padding bytes


def check_image_files(name: str, files: Any, paths: list[str], every_header: bool) -> tuple[int, int, int]:
    """Raises DataError naming the first of `paths` that is no readable image; returns the first one's height,
    width and channels. `files` is `tf.io.gfile` or its local stand-in; `every_header`: read every file's header
    and ending (a local folder), not only the sample's."""
    decoded = _spread(len(paths), DECODED_IN_FULL)
    for index, path in enumerate(paths):
        if index in decoded:
            _decode(name, files, path)
        elif every_header:
            _header_and_ending(name, files, path)
    return _shape(name, files, paths[0])


def _spread(total: int, count: int) -> set[int]:
    """`count` indices spread evenly over `total` (all of them when there are fewer), the first included."""
    if total <= count:
        return set(range(total))
    return {index * total // count for index in range(count)}


def _header_and_ending(name: str, files: Any, path: str) -> None:
    from PIL import Image

    try:
        with files.GFile(path, "rb") as stream:
            with Image.open(stream) as image:
                kind = image.format
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(max(0, size - _TAIL))
            tail = stream.read()
    except (OSError, ValueError, SyntaxError) as error:  # PIL's UnidentifiedImageError is an OSError
        raise DataError(_message(name, path, error)) from None
    ending = ENDINGS.get(kind)
    if ending and ending not in tail[-len(ending) - (_TAIL // 2 if kind == "JPEG" else 0):]:
        _decode(name, files, path)  # trailing bytes after a complete image pass; a file cut short does not


def _decode(name: str, files: Any, path: str) -> None:
    """The whole image decoded, a PNG's chunk checksums verified as the trials' decoder verifies them."""
    from PIL import Image

    try:
        with files.GFile(path, "rb") as stream:
            content = stream.read()
        with Image.open(io.BytesIO(content)) as image:
            image.verify()
        with Image.open(io.BytesIO(content)) as image:
            image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise DataError(_message(name, path, error)) from None


def _shape(name: str, files: Any, path: str) -> tuple[int, int, int]:
    try:
        with files.GFile(path, "rb") as stream:
            return image_header(stream)
    except (OSError, ValueError) as error:
        raise DataError(_message(name, path, error)) from None


def _message(name: str, path: str, error: Exception) -> str:
    return f"{name}: cannot read {path} as an image ({error or type(error).__name__}); replace or remove the file"
