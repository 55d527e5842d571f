"""``python examples/flask_chat [--host H] [--port P] [--debug]``: serve the chat on siothread's server."""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# run as a directory: make the package importable by its name
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from flask_chat import create_app, socketio  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The flask_siothread chat example")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--debug", action="store_true", help="debugger for HTTP views and reload on change")
    args = parser.parse_args()
    app = create_app()
    socketio.run(app, host=args.host, port=args.port, debug=args.debug)
