"""Fixtures of the ecosystem tests: the program runner of tests/support/mocks.py."""

from tests.support.mocks import program

__all__ = ["program"]
