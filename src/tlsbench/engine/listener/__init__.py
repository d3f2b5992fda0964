"""The listener side: a TCP/TLS server that shows what clients really send.

`Listener(config, on_event)` runs the accept loop and the clients in threads and reports
typed events (see events.py). Nothing here imports Textual.
"""
