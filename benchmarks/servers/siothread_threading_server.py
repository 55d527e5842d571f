"""siothread with async_mode='threading' on Werkzeug's threaded server (no monkey-patching)."""
import siothread

from threaded_common import main

if __name__ == "__main__":
    main(__doc__, siothread.Server, siothread.WSGIApp)
