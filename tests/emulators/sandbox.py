"""The no-Docker sandbox: migrate the embedded database, create the demo administrator, serve.

``python -m tests.emulators.sandbox`` is what ``make run`` starts.
"""

from __future__ import annotations

import argparse
import os

from flask_migrate import upgrade

from console import create_app
from console.admin.cli import ensure_demo_admin


def main() -> None:
    """Prepare the console and serve it until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("CONSOLE_ENV", "development")

    app = create_app()
    with app.app_context():
        upgrade()
    print("\nQuill Console sandbox")
    result = app.test_cli_runner().invoke(ensure_demo_admin)
    print(result.output, end="")
    print(f"url: http://{args.host}:{args.port}/\n", flush=True)
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
