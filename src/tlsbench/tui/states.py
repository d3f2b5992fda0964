"""Where a person is in the workbench, as data: the states and every key's transition, declared once.

A state is the zone that has focus, what the Connection tab's main area shows (the results, or the
form in their place), the dialogs open above the workbench (top-most last) and whether the form
holds a connection that can run. `step(state, key)` is the whole model; the workbench reads its
Escape targets from it (`back_target`), and tests/test_tui_states.py walks it with real key presses
and checks the drawn screen agrees after every key. Pure: no Textual here.

Rules the table keeps (checked by the tests): the results are reachable in at most two keys from
every state; Escape closes the top-most dialog, else leaves the form for the results, else goes
from the results to the profile list; ctrl+r shows the run it starts.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

ZONES = ("profiles", "form", "results", "target", "listener")

# Dialog name -> the class name of its screen (what the workbench's screen stack shows).
DIALOGS = {"why": "DiagnosisScreen", "copy": "CopyCommandScreen", "history": "HistoryScreen",
           "name": "NamePrompt", "palette": "CommandPalette", "repeat": "RepeatScreen",
           "enumerate": "EnumerationScreen", "confirm": "ConfirmScreen", "compare": "CompareScreen",
           "pcap": "PcapSavePrompt"}


class State(NamedTuple):
    zone: str = "profiles"  # which part has focus (ZONES)
    main: str = "results"  # what the Connection tab's main area shows: "results" | "form"
    dialogs: tuple[str, ...] = ()  # open above the workbench, top-most last
    composed: bool = True  # the form holds a connection that can run (a profile, a variant...)


# Targets: a zone name moves focus there ("form" also opens the form; "results", "profiles" and
# "listener" give the main area back to the results); "stay" changes nothing; "+NAME" opens a dialog;
# "-" closes the top-most one ("-form": and opens the form, "-results": and shows the results).
# "run" runs what is composed and moves to the results, "run-shown" runs and shows them beside the
# focus; a form that cannot run opens on its bad field instead. "?X" needs a composed connection (else
# the form opens to say what is missing); "toggle-form" is F7's form-or-back; "new" empties the form
# and opens it; "pick" highlights a profile, which composes it; "run-picked" runs the highlighted
# profile (none highlighted: nothing happens). q, ctrl+q and ctrl+c quit: they leave the model.
_DIALOG_OPENERS = {"f12": "+why", "ctrl+y": "?+copy", "f4": "+history", "ctrl+s": "?+name", "ctrl+p": "+palette",
                   "f10": "?+repeat", "ctrl+b": "+pcap"}
_CONNECTION = {"f7": "toggle-form", "ctrl+t": "listener", "ctrl+l": "target", **_DIALOG_OPENERS}
_PANELS = {"1": "results", "2": "results", "3": "results", "4": "results"}

WORKBENCH: dict[str, dict[str, str]] = {
    "profiles": {**_CONNECTION, **_PANELS, "escape": "stay", "enter": "run-picked", "ctrl+r": "run-shown",
                 "n": "new", "down": "pick"},
    "results": {**_CONNECTION, **_PANELS, "escape": "profiles", "ctrl+r": "run", "n": "new", "enter": "stay"},
    # In a text field printable keys are typed: n, q and the digits are not listed.
    "form": {**_CONNECTION, "escape": "results", "ctrl+r": "run", "enter": "stay"},
    "target": {**_CONNECTION, "ctrl+l": "stay", "escape": "profiles", "ctrl+r": "run"},
    # The Connection tab's keys are off here (F7, F12... do nothing); ctrl+r runs and shows the results.
    "listener": {"ctrl+t": "profiles", "ctrl+r": "run", "ctrl+l": "target", "escape": "stay", "ctrl+p": "+palette"},
}

# The dialogs' keys. The command palette opens from the workbench only (not over a dialog).
DIALOG_KEYS: dict[str, dict[str, str]] = {
    "why": {"escape": "-", "u": "-form", "enter": "-results"},
    "copy": {"escape": "-", "q": "-"},
    "history": {"escape": "-", "q": "-", "space": "stay"},
    "compare": {"escape": "-", "q": "-"},
    "name": {"escape": "-", "enter": "-"},
    "pcap": {"escape": "-", "enter": "-"},  # Enter closes once the file is written (else it says why)
    "palette": {"escape": "-"},
    "repeat": {"escape": "-results"},
    "enumerate": {"escape": "-"},
    "confirm": {"escape": "-", "n": "-", "y": "-"},
}

# Keys whose outcome depends on what a dialog found (a variant that can be used, a name that is valid)
# or on the field in focus (Enter in the form moves to the next field, but on a dropdown opens its
# list): declared above, left out of a walk that does not know that data.
DEPENDS_ON_DATA = {("why", "u"), ("why", "enter"), ("name", "enter"), ("form", "enter"), ("pcap", "enter")}


def keys_of(state: State) -> dict[str, str]:
    """The keys that mean something in `state`, and where each leads (the table's row)."""
    if state.dialogs:
        return DIALOG_KEYS[state.dialogs[-1]]
    return WORKBENCH[state.zone]


def step(state: State, key: str) -> State:
    """The state after `key` (a key with no entry changes nothing)."""
    target = keys_of(state).get(key, "stay")
    if target.startswith("?"):
        if not state.composed:
            return state._replace(zone="form", main="form")
        target = target[1:]
    if target == "stay":
        return state
    if target.startswith("+"):
        return state._replace(dialogs=(*state.dialogs, target[1:]))
    if target.startswith("-"):
        closed = state._replace(dialogs=state.dialogs[:-1])
        return step_to(closed, target[1:]) if target != "-" else closed
    return step_to(state, target)


def step_to(state: State, target: str) -> State:
    if target in ("run", "run-shown"):
        if not state.composed:
            return state._replace(zone="form", main="form")
        return state._replace(zone="results" if target == "run" else state.zone, main="results")
    if target == "toggle-form":  # F7: the form, or (when it is shown or has focus) back to the results
        return step_to(state, "results" if "form" in (state.main, state.zone) else "form")
    if target == "run-picked":  # Enter on a profile runs it; with none highlighted it does nothing
        return step_to(state, "run-shown") if state.composed else state
    if target == "new":
        return state._replace(zone="form", main="form", composed=False)
    if target == "pick":  # the next profile is highlighted, so composed
        return state._replace(composed=True)
    if target == "form":
        return state._replace(zone="form", main="form")
    if target == "target":
        return state._replace(zone="target")
    return state._replace(zone=target, main="results")


def results_visible(state: State) -> bool:
    return not state.dialogs and state.zone != "listener" and state.main == "results"


def back_target(zone: str) -> str:
    """Where Escape leads from a zone of the workbench (no dialog open)."""
    return WORKBENCH[zone]["escape"]


def shortest_path(start: State, goal, alphabet=None) -> list[str] | None:
    """The fewest keys from `start` to a state for which `goal(state)` holds (breadth-first), or None."""
    seen = {start}
    queue: deque[tuple[State, list[str]]] = deque([(start, [])])
    while queue:
        state, path = queue.popleft()
        if goal(state):
            return path
        if len(path) >= 8:
            continue
        for key in keys_of(state):
            if alphabet is not None and key not in alphabet:
                continue
            nxt = step(state, key)
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, [*path, key]))
    return None


def reachable(start: State) -> set[State]:
    """Every state the table reaches from `start`."""
    seen, todo = {start}, [start]
    while todo:
        state = todo.pop()
        for key in keys_of(state):
            nxt = step(state, key)
            if nxt not in seen and len(nxt.dialogs) <= 3:
                seen.add(nxt)
                todo.append(nxt)
    return seen
