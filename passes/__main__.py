"""`python -m passes` is the `passes` command."""

from passes.cli import main

main()
