"""`python -m swx.cli …` (the container entrypoint): the same as the `swx` console script."""

from swx.cli import main

main()
