"""Findings made from evidence: network (dns, tcp, proxy), tls, certificates."""
