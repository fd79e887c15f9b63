"""`python -m minutes`: the same commands as the `minutes` console script."""

from minutes.cli import main

main()
