"""Run the bridge: `python main.py` serves on $PORT (8080 by default)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Validate the configuration, load the master, then serve."""
    from dotenv import load_dotenv

    from app import create_app
    from app.settings import ConfigError, Settings

    load_dotenv()
    try:
        settings = Settings.from_env(os.environ)
        app = create_app(settings)
    except (ConfigError, OSError, ValueError) as error:
        print(f"fyers-alert-bridge: cannot start: {error}", file=sys.stderr)
        sys.exit(2)
    app.run(host="0.0.0.0", port=settings.port, threaded=True)


if __name__ == "__main__":
    main()
