"""QUIC and HTTP/3: the `quic` stage's machinery (aioquic driven sans-IO over the run's datagram socket).

wire.py reads what a QUIC packet's first bytes say (long header, Version Negotiation) and names
error codes; verify.py checks the chain a QUIC handshake received with OpenSSL, as the tls stage's
verdicts are OpenSSL's; session.py drives aioquic's QuicConnection on tlsbench's clock; h3.py
sends the HTTP/3 request; findings.py says what a failed attempt means. Only session.py and h3.py
import aioquic, and only a run that asks for QUIC loads them (before any clock).
"""
