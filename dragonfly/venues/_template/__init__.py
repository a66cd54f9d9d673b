"""Skeleton of a venue adapter: copy this folder to ``dragonfly/venues/<venue>/``.

One module per job (see STYLE.md section 2):

``config.py``     frozen, keyword-only configuration (base URL override, channel options)
``schemas.py``    wire types and constants: URLs, key paths, event names
``parsing.py``    pure functions: routing key, sequence/time fields, names, subscribe messages
``websocket.py``  subclass of :class:`dragonfly.clients.ws.WebSocketClient`: URL and subscribe frames only
``data.py``       subclass of :class:`dragonfly.venues.feed.SnapshotFeed`: ``route`` and ``on_control``
``factories.py``  ``create_feed(...)`` and ``VENUE_SPEC``; add the module to ``registry._BUILTIN``
"""
