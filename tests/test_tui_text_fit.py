"""Text made to fit at 80x24: command lines wrapped between arguments (an option kept with its value),
and names cut in the middle so both ends stay."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tlsbench.tui.safe_text import middle_ellipsis
from tlsbench.tui.widgets.command_line import INDENT, units, wrap_command

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.:/_=", min_size=1, max_size=30)
ARG = st.one_of(WORD, WORD.map(lambda w: "-" + w), WORD.map(lambda w: f"'{w} {w}'"))


def unwrap(lines: list[str]) -> str:
    return " ".join(line.removeprefix(INDENT).removesuffix(" \\") for line in lines)


def test_an_option_stays_with_its_value():
    lines = wrap_command("openssl s_client -connect 127.0.0.1:44303 -servername NAME -showcerts", 44)
    assert lines == ["openssl s_client -connect 127.0.0.1:44303 \\", "    -servername NAME -showcerts"]
    assert units("curl -k --resolve a:1:b https://x/") == ["curl", "-k", "--resolve a:1:b", "https://x/"]


@settings(max_examples=300, derandomize=True)
@given(st.lists(ARG, min_size=1, max_size=14), st.integers(20, 100))
def test_wrapping_keeps_every_unit_whole_and_the_command_the_same(args, width):
    command = " ".join(["tool", *args])
    lines = wrap_command(command, width)
    assert unwrap(lines) == command  # read as a shell reads it: the same command
    pieces = units(command)
    for line in lines:
        body = line.removeprefix(INDENT).removesuffix(" \\")
        assert len(line) <= width or body in pieces  # only a unit wider than the width sticks out
    joined = "\n".join(lines)
    for piece in pieces:  # no unit is split across lines
        assert piece in joined


@settings(max_examples=300, derandomize=True)
@given(st.text(alphabet="abcdefghij.:-_0123456789", min_size=1, max_size=60), st.integers(4, 40))
def test_a_middle_cut_keeps_both_ends(text, width):
    cut = middle_ellipsis(text, width)
    if len(text) <= width:
        assert cut == text
        return
    assert len(cut) == width and "…" in cut
    head, tail = cut.split("…", 1)
    assert text.startswith(head) and text.endswith(tail) and len(head) >= len(tail) - 1


def test_two_targets_that_differ_at_the_end_stay_apart():
    a, b = middle_ellipsis("mail.lab.test:42587", 18), middle_ellipsis("mail.lab.test:42588", 18)
    assert a != b and a.endswith(":42587")
