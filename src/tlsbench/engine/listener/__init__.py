"""The listener side: a TCP/TLS server that shows what clients really send.

`Listener(config, on_event)` serves every client from one event-loop thread and reports
typed events (see events.py). Nothing here imports Textual.
"""
