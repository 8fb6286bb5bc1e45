"""One FastAPI router per resource of the REST API, and the live websocket."""
