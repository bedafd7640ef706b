"""The admin console: server-rendered pages (Jinja2, shipped in the package, no CDN)."""
