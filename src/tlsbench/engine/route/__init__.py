"""The route to the target: proxy specs and URLs, opening a route's connection, host:port parsing, the socket's own facts (TCP_INFO, ports)."""
