"""The session runtime: one loop from a source through the pipeline to the recorder and sinks,
the same for a live session, a replay at any speed and ``analyze``."""
