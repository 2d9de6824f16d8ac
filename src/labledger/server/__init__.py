"""The HTTP API: read routes for the UI, write routes and auth for the team server.

One app factory over the ``Store`` interface serves both ``labledger ui`` and ``labledger server``.
"""
