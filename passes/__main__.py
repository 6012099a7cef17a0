"""`python -m passes` is the `passes` command."""

from passes.cli import main

# Guarded: worker processes (anyio's, drawing QR sheets) load the main module by its path.
if __name__ == "__main__":
    main()
