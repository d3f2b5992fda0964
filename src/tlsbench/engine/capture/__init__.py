"""Captures of a run's own bytes (`--pcap`, the workbench's save): taps at the socket and the TLS
secrets of each handshake (taps.py), the private key logs they come from (keylog.py), credentials
overwritten in place (masking.py), frames synthesised around the bytes (frames.py), the pcapng file
(pcapng.py), where it is written (files.py), and a workbench run's capture from the engine process
(isolated.py). Nothing here costs a run that is not captured."""
