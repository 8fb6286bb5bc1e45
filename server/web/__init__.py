"""The supervisor server: the FastAPI app, its REST routers and live websocket, access control and
the sessions it runs."""
