"""Serves the example with waitress: python3 -m devices_app.

Environment: SESSIOND_ENDPOINT (default sessiond's own default app socket,
ipc://sessiond-data/app.sock),
HOST (default 127.0.0.1), PORT (default 8080).
"""

import os

import waitress

from sessiond import DEFAULT_ENDPOINT, Client

from . import create_app


def main():
    client = Client(os.environ.get("SESSIOND_ENDPOINT", DEFAULT_ENDPOINT),
                    timeout=2.0)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    print(f"devices_app: http://{host}:{port}/  (sessiond at {client.endpoint})",
          flush=True)
    waitress.serve(create_app(client), host=host, port=port, threads=8)


if __name__ == "__main__":
    main()
