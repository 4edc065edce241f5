"""`python -m linesight_devstack up | status | down`."""

from linesight_devstack.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
