"""Web UI: server-rendered pages (Jinja2), German by default, English on request."""
