"""Installs one top-level package, `tunelab`, whose subpackages are the repository's top-level folders.

The folders stay where they are (searchspaces/, trainables/, experiments/, analysis/) and are mapped
into the namespace with `package_dir`: `tunelab.analysis` is ./analysis, and so on for every
subpackage below them. Nothing else is installed at top level; benchmarks/, scripts/ and tests/ are not
installed.
"""
from setuptools import find_packages, setup

LIBRARY = ("searchspaces", "trainables", "experiments", "analysis")

packages = ["tunelab", *(f"tunelab.{sub}" for sub in find_packages("tunelab"))]
package_dir = {"tunelab": "tunelab"}
for folder in LIBRARY:
    for package in (folder, *(f"{folder}.{sub}" for sub in find_packages(folder))):
        packages.append(f"tunelab.{package}")
    package_dir[f"tunelab.{folder}"] = folder

setup(packages=packages, package_dir=package_dir)
