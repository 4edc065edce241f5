"""The inference logic, plain Python, testable without a server."""
