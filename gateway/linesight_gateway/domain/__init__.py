"""Gateway domain logic: plain Python, dependencies passed in."""
