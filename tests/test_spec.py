"""The spec builder: every bad input is refused with one line naming the field."""

import pytest

from tlsbench.errors import InputError
from tlsbench.engine.spec import build_spec, split_hostport


@pytest.mark.parametrize(
    "text, host, port",
    [
        ("example.com:443", "example.com", 443),
        ("127.0.0.1:8443", "127.0.0.1", 8443),
        ("[::1]:993", "::1", 993),
        ("a_b.internal:1", "a_b.internal", 1),
        ("bücher.example:443", "bücher.example", 443),
    ],
)
def test_split_hostport_accepts(text, host, port):
    assert split_hostport(text) == (host, port)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("example.com", "has no port"),
        ("example.com:0", "out of range"),
        ("example.com:70000", "out of range"),
        ("example.com:https", "not a number"),
        ("::1:443", "brackets"),
        ("[127.0.0.1]:443", "only for IPv6"),
        ("[::1:443", "unclosed"),
        ("exa mple.com:443", "spaces or control"),
        ("-bad-.com:443", "bad label"),
        ("https://example.com:443", "looks like a URL"),
        (":443", "empty"),
        ("a" * 64 + ".com:443", "bad label"),
    ],
)
def test_split_hostport_refuses(text, fragment):
    with pytest.raises(InputError) as err:
        split_hostport(text)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_sni_follows_host_but_not_ip():
    assert build_spec("example.com:443").sni == "example.com"
    assert build_spec("127.0.0.1:443").sni is None
    assert build_spec("127.0.0.1:443", sni="www.example.com").sni == "www.example.com"
    assert build_spec("example.com:443", no_sni=True).sni is None
    assert build_spec("example.com:443", tls=False).sni is None


def test_pin_keeps_the_name():
    spec = build_spec("www.example.com:443", pin="127.0.0.1")
    assert spec.pin == "127.0.0.1" and spec.host == "www.example.com" and spec.sni == "www.example.com"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"pin": "not-an-ip"}, "pin"),
        ({"sni": "a.example", "no_sni": True}, "sni"),
        ({"sni": "10.0.0.1"}, "sni"),
        ({"tls_min": "1.4"}, "tls-min"),
        ({"tls_min": "1.3", "tls_max": "1.2"}, "tls_min"),
        ({"ciphers": "NOT-A-CIPHER"}, "ciphers"),
        ({"alpn": "h2,,http/1.1"}, "alpn"),
        ({"cafile": "/nonexistent/ca.pem"}, "cafile"),
        ({"insecure": True, "cafile": "/etc/hostname"}, "cafile"),
        ({"key": "/etc/hostname"}, "key"),
        ({"timeout": "soon"}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"http": True, "send": "x"}, "send"),
        ({"tls": False, "alpn": "h2"}, "tls"),
        ({"proxies": ["socks6://127.0.0.1:1080"]}, "proxy"),
        ({"proxies": ["socks5://127.0.0.1:99999"]}, "proxy port"),
    ],
)
def test_bad_options_name_their_field(kwargs, field):
    with pytest.raises(InputError) as err:
        build_spec("example.com:443", **kwargs)
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_cert_file_must_hold_pem(tmp_path):
    junk = tmp_path / "cert.pem"
    junk.write_text("not a certificate")
    with pytest.raises(InputError, match="holds no PEM a certificate"):
        build_spec("example.com:443", cert=str(junk), key=str(junk))


def test_proxy_limits_that_pysocks_would_break():
    with pytest.raises(InputError, match="128|127"):
        build_spec("example.com:443", proxies=["socks5://127.0.0.1:1080"], proxy_user="u" * 128 + ":p")
    with pytest.raises(InputError, match="IPv6"):
        build_spec("[::1]:443", proxies=["socks4://127.0.0.1:1080"])
    spec = build_spec("example.com:443", proxies=["socks5h://127.0.0.1"], proxy_user="alice:secret")
    assert spec.proxy.port == 1080 and spec.proxy.username == "alice" and spec.proxy.password == "secret"
    assert spec.proxy.remote_dns


def test_proxy_password_from_environment():
    spec = build_spec("example.com:443", proxies=["socks5://127.0.0.1:1080"], proxy_user="alice",
                      environ={"TLSBENCH_PROXY_PASSWORD": "s3cret"})
    assert spec.proxy.password == "s3cret" and spec.proxy.password_env == "TLSBENCH_PROXY_PASSWORD"
    with pytest.raises(InputError, match="MY_PW"):
        build_spec("example.com:443", proxies=["socks5://127.0.0.1:1080"], proxy_user="alice",
                   proxy_password_env="MY_PW", environ={})
