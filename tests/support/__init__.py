"""Test support shared by every test folder, loaded as pytest plugins (``tests/conftest.py``)."""
