"""The local lab: real servers on loopback that reproduce the situations tlsbench explains.

Used by `tlsbench lab` and by the test suite alike:
- `certs`: the lab PKI (good chain and every certificate fault), made with `cryptography`;
- `processes`: starting/stopping server programs, free ports, missing-binary errors;
- `openssl_server`, `nginx_server`, `socks_servers`: openssl s_server, nginx, microsocks,
  dante and pproxy launchers;
- `tiny_servers`: in-process plaintext HTTP, banner, silent, reset servers and a refused port;
- packaged servers, each from a private directory on free ports (`service` holds what they
  share): `http_proxies` (squid, tinyproxy), `mail_servers` (postfix, dovecot), `ftp_server`
  (vsftpd), `database_servers` (PostgreSQL, MariaDB), `ldap_server` (slapd), `xmpp_server`
  (prosody), `news_server` (INN), `irc_server` (InspIRCd), `balancer` (haproxy);
- `lab`: the `Lab` that starts the seed situations and describes each one.
"""
