"""`python -m minutes`: the same commands as the `minutes` console script."""

from minutes.cli.serve import main

main()
