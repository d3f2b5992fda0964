"""The Listener view: a listener's accept queue, its clients and what they really sent."""

from tlsbench.tui.listener.listener_view import ListenerView

__all__ = ["ListenerView"]
