"""Certificates: parsing (cryptography, and raw DER where it cannot), PEM chains, distinguished names, Certificate Transparency, OCSP staples, revocation, serial numbers."""
