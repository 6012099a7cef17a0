"""ASGI entry point: `uvicorn server:app`, or `python server.py` (same as `passes serve`)."""

import sys

if __name__ == "__main__":
    from passes.cli import main

    main(["serve"])
else:
    from passes.app import create_app
    from passes.config import Settings
    from passes.errors import ConfigError

    try:
        app = create_app(Settings.from_env())
    except ConfigError as exc:
        sys.exit(f"passes: {exc}")
