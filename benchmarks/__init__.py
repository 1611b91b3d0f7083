"""The benchmark harness (run on demand, never by the test suite)."""
