"""Run deploy_app under one in-process WSGI server: ``python serve_with.py SERVER PORT``.

SERVER is ``werkzeug`` (``app.run(threaded=True)``, as the examples do), ``waitress``,
``pywsgi`` (plain gevent.pywsgi, no WebSocket handler) or ``siothread``
(``siothread.serve``). gunicorn and uWSGI are started from their own command lines.
The process ends itself after ``DEPLOY_MAX_SECONDS`` (default 600); tests stop it earlier by PID.
"""
import os
import sys
import threading




def main() -> None:
    server, port = sys.argv[1], int(sys.argv[2])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from deploy_app import app

    limit = threading.Timer(float(os.environ.get("DEPLOY_MAX_SECONDS", "600")), os._exit, (0,))
    limit.daemon = True
    limit.start()
    if server == "werkzeug":
        app.run(host="127.0.0.1", port=port, threaded=True)
    elif server == "waitress":
        import waitress

        waitress.serve(app, host="127.0.0.1", port=port, threads=16, _quiet=True)
    elif server == "pywsgi":
        from gevent import pywsgi

        pywsgi.WSGIServer(("127.0.0.1", port), app, log=None).serve_forever()
    elif server == "siothread":
        import siothread

        siothread.serve(app, host="127.0.0.1", port=port)
    else:
        raise SystemExit(f"unknown server {server!r}")


if __name__ == "__main__":
    main()
