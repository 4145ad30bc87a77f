"""`images:PATH`: a folder of class folders of image files, decoded in each worker by Keras.

    data: {source: images:/data/pets, image_size: [64, 64], color_mode: rgb}

The class folders' names, sorted, are the classes (as `keras.utils.image_dataset_from_directory`
names them). A folder holding exactly `train/` and `val/`, with the same class folders in each,
is split already; otherwise Keras holds out `validation_fraction` of the files (of `train/`, when
the folder holds `train/` and `test/`), shuffled with the experiment's seed. A `test/` beside them
is the test part, which only the best model is scored on (`test_fraction` is refused: Keras splits
in two only). The driver lists the folders, takes the default size and colour mode from the first
image's header, and looks at every file (`image_files`) so that a corrupt one is named before Ray
starts; workers decode every image, scale it to [0, 1] and cache it (`cache`), and a trial that
fails on a file names it (`locate`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.core.run_folder import is_uri
from tunelab.trainables.data.base import DataError, Examples, FileForm, StreamedData, check_flag
from tunelab.trainables.data.image_files import check_image_files
from tunelab.trainables.data.located import reason
from tunelab.trainables.data.streaming import COLOR_MODES, count, file_system, location, positive_ints

IMAGE_FILES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what image_dataset_from_directory reads
SPLIT_FOLDERS = ["train", "val"]
TEST_FOLDER = "test"
WITH_TEST = ([TEST_FOLDER, *SPLIT_FOLDERS], [TEST_FOLDER, "train"])  # sorted, as _subfolders lists them


@dataclass(frozen=True)
class ImageFolder(StreamedData):
    """An image folder as the worker reads it: the classes and image size are the driver's, so every worker agrees."""

    folder: str
    class_names: tuple[str, ...]
    color_mode: str
    split_folders: bool  # train/ and val/ hold the split; validation_fraction is not used
    validation_fraction: float
    seed: int
    cache: bool
    test_folder: bool = False  # test/ holds the test part; without val/, validation is held out of train/

    def read(self) -> tuple[Examples, Examples]:
        images = self._reader()
        if self.split_folders:
            train = images(os.path.join(self.folder, "train"), shuffle=True, seed=self.seed)
            validation = images(os.path.join(self.folder, "val"), shuffle=False)
        else:
            folder = os.path.join(self.folder, "train") if self.test_folder else self.folder
            train, validation = images(folder, validation_split=self.validation_fraction, subset="both",
                                       shuffle=True, seed=self.seed)
        return self._examples(train), self._examples(validation)

    @property
    def has_test(self) -> bool:
        return self.test_folder

    def read_test(self) -> Examples:
        if not self.test_folder:
            return super().read_test()
        return self._examples(self._reader()(os.path.join(self.folder, TEST_FOLDER), shuffle=False))

    def locate(self, error: Exception) -> str | None:
        """The first file TensorFlow cannot decode as the trials decode it, found by decoding each file again."""
        import tensorflow as tf

        files = file_system(self.folder)
        channels = COLOR_MODES[self.color_mode]
        for path in image_paths(self.name, files, self._parts(), list(self.class_names)):
            try:
                tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
            except tf.errors.OpError as failure:
                return f"data: {self.name}: cannot decode {path} ({reason(failure)}); replace or remove the file"
        return None

    def _parts(self) -> list[str]:
        """The folders holding class folders: the folder itself, or its train/, val/ and test/."""
        if not (self.split_folders or self.test_folder):
            return [self.folder]
        names = (*SPLIT_FOLDERS, TEST_FOLDER) if self.split_folders and self.test_folder else (
            SPLIT_FOLDERS if self.split_folders else ("train", TEST_FOLDER))
        return [os.path.join(self.folder, part) for part in names]

    def _reader(self) -> Any:
        """`image_dataset_from_directory` with this folder's classes, size and colour mode: unbatched (image, label)."""
        import functools

        import keras

        return functools.partial(keras.utils.image_dataset_from_directory, label_mode="int",
                                 class_names=list(self.class_names), color_mode=self.color_mode,
                                 image_size=self.input_shape[:2], batch_size=None, verbose=False)

    def _examples(self, images: Any) -> Examples:
        import tensorflow as tf

        scaled = images.map(lambda x, y: (x / 255.0, tf.cast(y, tf.int64)), num_parallel_calls=tf.data.AUTOTUNE)
        return Examples(scaled.cache() if self.cache else scaled, count(images))


def load_image_folder(name: str, path: str, options: Mapping[str, Any], validation_fraction: float, seed: int,
                      test_fraction: float) -> ImageFolder:
    """The folder's description, from its listing and one image's header; raises DataError naming the problem."""
    folder = location(name, path).rstrip("/")
    files = file_system(folder)
    if not files.isdir(folder):
        raise DataError(f"{name}: {folder} {'is not a folder' if files.exists(folder) else 'does not exist'}")
    layout = _subfolders(files, folder)
    split_folders, test_folder = layout in (SPLIT_FOLDERS, WITH_TEST[0]), layout in WITH_TEST
    if test_fraction:
        fix = "leave test_fraction out: test/ is its test part" if test_folder else (
            "put the test images in a test/ folder beside train/")
        raise DataError(f"test_fraction: {name} is split by Keras in each worker, in two parts only; {fix}")
    parts = [os.path.join(folder, part) for part in layout] if split_folders or test_folder else [folder]
    parts.sort(key=lambda part: os.path.basename(part) != "train")  # train/ first: it names the classes
    class_names = _subfolders(files, parts[0])
    if len(class_names) < 2:
        raise DataError(f"{name}: needs a folder per class, at least 2; {parts[0]} holds {class_names}")
    for other in parts[1:]:
        if _subfolders(files, other) != class_names:
            raise DataError(f"{name}: {os.path.basename(other)}/ has the class folders {_subfolders(files, other)}, "
                            f"train/ has {class_names}; they must be the same")
    per_part = [image_paths(name, files, [part], class_names) for part in parts]
    total = len(per_part[0])
    if not split_folders and not 0 < int(validation_fraction * total) < total:  # Keras holds out int(fraction * n)
        raise DataError(f"{name}: validation_fraction {validation_fraction} of {total} images holds out "
                        f"{int(validation_fraction * total)}; both parts need at least one image")
    paths = [path for part in per_part for path in part]
    height, width, channels = check_image_files(name, files, paths, every_header=not is_uri(folder))
    size = options["image_size"] or (height, width)
    mode = options["color_mode"] or next(mode for mode, n in COLOR_MODES.items() if n == channels)
    return ImageFolder(name=name, input_shape=(*size, COLOR_MODES[mode]), num_classes=len(class_names), folder=folder,
                       class_names=tuple(class_names), color_mode=mode, split_folders=split_folders,
                       validation_fraction=validation_fraction, seed=seed, cache=options["cache"],
                       test_folder=test_folder)


def _subfolders(files: Any, folder: str) -> list[str]:
    """Sorted names of the folders in `folder`, hidden ones left out, as Keras lists classes."""
    names = (entry.rstrip("/") for entry in files.listdir(folder))
    return sorted(n for n in names if not n.startswith(".") and files.isdir(os.path.join(folder, n)))


def image_paths(name: str, files: Any, parts: list[str], class_names: list[str]) -> list[str]:
    """The image files of each part's class folders (at any depth, as Keras finds them), sorted, part by part."""
    paths = []
    for class_folder in (os.path.join(part, class_name) for part in parts for class_name in class_names):
        found = [os.path.join(root, f) for root, _, names in sorted(files.walk(class_folder))
                 for f in sorted(names) if f.lower().endswith(IMAGE_FILES)]
        if not found:
            raise DataError(f"{name}: class folder {class_folder} holds no {', '.join(IMAGE_FILES)} files")
        paths.extend(found)
    return paths


def _options(given: Mapping[str, Any]) -> dict[str, Any]:
    size, mode = given.get("image_size"), given.get("color_mode")
    if mode is not None and mode not in COLOR_MODES:
        raise DataError(f"data.color_mode: {shown(mode)} is not allowed; use {', '.join(COLOR_MODES)}"
                        f"{did_you_mean(str(mode).lower(), COLOR_MODES)}")
    return {"image_size": None if size is None else positive_ints("image_size", size, (2,), "[height, width]"),
            "color_mode": mode, "cache": check_flag("cache", given, True)}


IMAGE_FOLDER = FileForm(load_image_folder, ("image_size", "color_mode", "cache"), _options)
