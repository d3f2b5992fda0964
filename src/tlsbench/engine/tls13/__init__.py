"""A hand-built TLS 1.3 client, far enough to read the server's first flight.

Python's `ssl` (OpenSSL 3.0) can neither offer X25519MLKEM768 nor ask for a TLS 1.3 stapled OCSP
response, which travels inside the encrypted Certificate message. This package builds its own
ClientHello with real key shares (`keyshare.py`), runs the RFC 8446 key schedule to the handshake
traffic keys (`schedule.py`), decrypts the server's records and reads EncryptedExtensions,
Certificate, CertificateVerify and Finished (`messages.py`, `client.py`: sans-IO, bytes in, events
out); `connect.py` drives it over one more connection of the run's route. No application data is
ever sent: the connection ends after the server's Finished.
"""
