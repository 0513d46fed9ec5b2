import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Hashing test passwords with the production hasher dominates these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
