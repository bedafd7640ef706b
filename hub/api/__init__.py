"""The real-time decision API and the admin console's web server (`hub serve`).

Importing this package is cheap (hub.config imports its settings model); the FastAPI app is
built by :func:`hub.api.app.create_app`.
"""
