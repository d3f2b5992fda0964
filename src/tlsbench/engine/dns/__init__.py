"""DNS as tlsbench queries it: the messages (dnspython builds and parses them) and the transports
that carry them to a server (transport.py)."""
