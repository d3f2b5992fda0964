"""A finding's suggestion as data: advice in neutral words, the changes to try, how other tools say it.

    Suggestion("Connect by name and keep the address: {0}.",
               changes=(Change.of(target="www.lab.test:443", pin="127.0.0.1"),),
               peers=(Peer("curl", "curl --resolve www.lab.test:443:127.0.0.1 https://www.lab.test/"),))

`text` is a template. `{0}`, `{1}` stand for the changes; `{timeout}` for a setting: an option's
name (engine/options.py), or a route flag's name with underscores (`proxy_cacert` for
--proxy-cacert); `{{` and `}}` are braces. Each front-end words them its own way: `cli_text()`
here as `tlsbench probe` flags (derived from the option declarations, so no flag is spelled twice),
the workbench with the form's labels (tui/widgets/findings_panel.py). A change is an assignment
over an option value set; one that holds a placeholder (an unknown NAME, a FILE) is not concrete:
it cannot be applied as it is. Peers are whole command lines for openssl, curl and the like, with
the real host, port and names filled in.

Text from the network never becomes template syntax: put it in through `literal()`.
"""


from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

if TYPE_CHECKING:
    from types import ModuleType

    import re

    from tlsbench.engine.options import Flag


def quote_word(word: str) -> str:
    """shlex.quote for a command line a finding shows (shlex imported when one is worded)."""
    return _shlex().quote(word)


def _shlex() -> "ModuleType":
    """shlex, for the peers' command lines: imported when a suggestion is worded, not with the engine."""
    import shlex

    return shlex


@lru_cache(maxsize=1)
def _token() -> "re.Pattern[str]":
    """The template's tokens: {{, }}, {name}. Compiled when first needed (not at every start-up)."""
    import re

    return re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_]+)\}")


def literal(text: object) -> str:
    """Text for a template that shows as it is (braces doubled)."""
    return str(text).replace("{", "{{").replace("}", "}}")


class Change(NamedTuple):
    """Values to set in a connection's value set, in order.

    `placeholders` are the words standing for unknowns (a change with any is not concrete);
    `before` holds the values the run had for the options it sets, when known, so that a front-end
    can say what goes away ("drop --sni old.example").
    """

    assign: tuple[tuple[str, Any], ...]
    placeholders: tuple[str, ...] = ()
    before: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, placeholders: tuple[str, ...] = (), was: Any = None, **values: Any) -> "Change":
        """A change setting `values`; `was` is the spec (or TLS target) the run used, for `before`."""
        return cls.from_values(values, placeholders, was)

    @classmethod
    def from_values(cls, values: dict[str, Any], placeholders: tuple[str, ...] = (), was: Any = None) -> "Change":
        from tlsbench.engine.options import BY_NAME

        unknown = [name for name in values if name not in BY_NAME]
        if unknown:
            raise ValueError(f"a suggested change names no option: {', '.join(unknown)}")
        before: list[tuple[str, Any]] = []
        if was is not None:
            for name in values:
                try:
                    before.append((name, _frozen(BY_NAME[name].get(was))))
                except AttributeError:  # a TLS target has no route or local side
                    pass
        return cls(tuple((k, _frozen(v)) for k, v in values.items()), tuple(placeholders), tuple(before))

    @property
    def values(self) -> dict[str, Any]:
        return {k: _thawed(v) for k, v in self.assign}

    @property
    def previous(self) -> dict[str, Any]:
        return {k: _thawed(v) for k, v in self.before}

    @property
    def concrete(self) -> bool:
        """Every value is known: the change can be applied as it is."""
        return not self.placeholders

    def apply(self, values: dict[str, Any]) -> dict[str, Any]:
        """A copy of a value set with this change made."""
        out = dict(values)
        out.update(self.values)
        return out

    def to_dict(self) -> dict:
        return {"set": self.values, "concrete": self.concrete, "placeholders": list(self.placeholders)}


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _thawed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class Peer(NamedTuple):
    """How another tool says the same: the tool, and a command line with real values (shell words)."""

    tool: str
    command: str


class Suggestion(NamedTuple):
    text: str = ""  # the template (see the module's docstring)
    changes: tuple[Change, ...] = ()
    peers: tuple[Peer, ...] = ()

    @property
    def applicable(self) -> Change | None:
        """The first change that can be applied as it is, if any."""
        return next((c for c in self.changes if c.concrete), None)

    def references(self) -> list[str]:
        """The names of the template's `{...}` tokens, in order."""
        return [m.group(1) for m in _token().finditer(self.text) if m.group(1)]


def render(suggestion: Suggestion, change_words: Callable[[Change], str], setting_words: Callable[[str], str]) -> str:
    """The template with its changes and settings worded by the front-end's two functions (a plain
    string, as a finding made outside the catalogue may carry, is its own words)."""
    if isinstance(suggestion, str):
        return suggestion

    def word(match: "re.Match[str]") -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name.isdigit():
            index = int(name)
            return change_words(suggestion.changes[index]) if index < len(suggestion.changes) else token
        return setting_words(name) if is_setting(name) else token

    return _token().sub(word, suggestion.text)


# --- settings a template may name ------------------------------------------------------------

def route_flag(name: str) -> "Flag | None":
    """The route flag a name such as `proxy_cacert` stands for (a Flag of the proxies option), or None."""
    from tlsbench.engine.options import BY_NAME

    spelled = "--" + name.replace("_", "-")
    return next((f for f in BY_NAME["proxies"].flags if spelled in f.names), None)


def is_setting(name: str) -> bool:
    from tlsbench.engine.options import BY_NAME

    return name in BY_NAME or route_flag(name) is not None


# --- the CLI's words ---------------------------------------------------------------------------

def cli_setting(name: str) -> str:
    """A setting as `tlsbench probe` names it: its primary flag (the target: HOST:PORT)."""
    from tlsbench.engine.options import BY_NAME

    option = BY_NAME.get(name)
    if option is None:
        flag = route_flag(name)
        return flag.names[0] if flag is not None else name
    if not option.flags:
        return "HOST:PORT" if name == "target" else name
    return option.flags[0].names[0]


def cli_change(change: Change) -> str:
    """A change in `tlsbench probe` words: the target, the flags it needs, and 'drop ...' for what goes away.

    The flags are derived from the option declarations (command_words over the defaults plus the
    change); what goes away is the flags the run's values gave for options set back to a default.
    """
    from tlsbench.engine.options import BY_NAME, command_words, defaults

    base = defaults()
    words = command_words(change.apply(base))
    reset = [name for name, value in change.assign if name != "target" and _is_default(value, BY_NAME[name].default)]
    parts: list[str] = []
    target = change.values.get("target")
    if target:
        parts.append(_shlex().quote(str(target)))
    if words:
        parts.append(_shlex().join(words))
    if reset:
        previous = change.previous
        gone = command_words({**base, **{k: v for k, v in previous.items() if k in reset}}) if previous else []
        if not gone:
            gone = [cli_setting(name) for name in reset if BY_NAME[name].flags]
        gone = [w for w in gone if w not in words]
        if gone:
            parts.append("drop " + _shlex().join(gone))
    return " ".join(parts)


def _is_default(value: Any, default: Any) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    return value == default or (value in (None, "") and default in (None, ""))


def cli_text(suggestion: Suggestion, peers: bool = True) -> str:
    """The suggestion in the CLI's words, with the peers' command lines after it in parentheses."""
    text = render(suggestion, cli_change, cli_setting)
    if peers and suggestion.peers:
        text += " (" + "; ".join(p.command for p in suggestion.peers) + ")"
    return text


# --- peers -------------------------------------------------------------------------------------

def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def hostport(host: str, port: int) -> str:
    return f"{_host(host)}:{port}"


def s_client(address: str, port: int, *words: str, sni: str | None = None) -> Peer:
    """`openssl s_client -connect ADDRESS:PORT [-servername SNI | -noservername] WORDS...`."""
    parts = ["openssl", "s_client", "-connect", _shlex().quote(hostport(address, port))]
    parts += ["-servername", _shlex().quote(sni)] if sni else ["-noservername"]
    return Peer("openssl", " ".join(parts + list(words)))


def curl(url_host: str, port: int, *words: str, scheme: str = "https", path: str = "/",
         address: str | None = None) -> Peer:
    """`curl [--resolve HOST:PORT:ADDRESS] WORDS... SCHEME://HOST:PORT/PATH` (address: connect there)."""
    parts = ["curl"]
    if address and address != url_host:
        parts += ["--resolve", _shlex().quote(f"{_host(url_host)}:{port}:{_host(address)}")]
    parts += list(words)
    parts.append(_shlex().quote(f"{scheme}://{hostport(url_host, port)}{path}"))
    return Peer("curl", " ".join(parts))
