"""``python -m kizuna``: the command line (as ``kizuna``)."""

from kizuna.cli import main

if __name__ == "__main__":
    main()
