"""Fixtures of the program tests."""

from tests.support.mocks import program

__all__ = ["program"]
