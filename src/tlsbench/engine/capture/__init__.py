"""Captures of a run's own bytes: taps at the socket (taps.py), private key logs for the TLS secrets
(keylog.py), frames synthesised around the bytes (frames.py), the pcapng file (pcapng.py) and where
it is written (files.py). Nothing here costs a run that is not captured."""
