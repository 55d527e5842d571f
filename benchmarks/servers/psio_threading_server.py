"""python-socketio 5 with async_mode='threading' on Werkzeug's threaded server, as its examples deploy it."""
import socketio

from threaded_common import main

if __name__ == "__main__":
    main(__doc__, socketio.Server, socketio.WSGIApp)
