"""One router module per resource; ``labledger.server.app.ROUTERS`` lists them."""
