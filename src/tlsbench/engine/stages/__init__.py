"""One module per stage: resolve, tcp, proxy, tls, chain, app."""
