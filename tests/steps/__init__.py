"""Step definitions of the Japanese behaviour specs in ``features/`` (see features/README.md).

Loaded through ``pytest_plugins`` in tests/conftest.py, one module per area.
"""
