"""The browser dashboard, served as static files by the supervisor server."""
