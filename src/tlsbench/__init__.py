"""tlsbench: every stage of a direct, SOCKS or TLS connection, measured and explained."""

__version__ = "0.1.0"
