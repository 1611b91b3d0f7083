"""Helpers shared by test folders (real server subprocesses)."""
