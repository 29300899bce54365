"""Real kubectl, kustomize and helm on what the tool writes (a package: its conftest must not
shadow tests/conftest.py, which other test modules import as ``conftest``)."""
