"""``nfb bench``: measurements against the tools users would pick instead (not timed tests)."""
