"""Every scenario of every ``features/**/*.feature`` file, as one test each.

``bdd_features_base_dir`` (pyproject) is ``features`` under the rootdir, so "." is the whole
folder: a new feature file runs with no Python change. Steps live in ``tests/steps/``.
"""
from pytest_bdd import scenarios

scenarios(".")
