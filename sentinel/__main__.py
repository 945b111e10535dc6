"""``python -m sentinel``: the same command line as the ``sentinel`` script."""

from sentinel.cli import main

if __name__ == "__main__":
    main()
