"""Every key of the workbench in one table, with an id each: the bindings of the workbench screen,
of its dialogs and of its widgets, the key bar, the command palette and the docs' key table are
made from it, and a person's `keymap.toml` (tui/keymap.py) remaps keys by id.

A key has one meaning in a context. The workbench's actions belong to a tab ("connection",
"listener") or to both ("any"); the key bar shows the actions of the tab that is shown, and the
command palette offers all of them, switching tabs first when needed. Where a text field has focus,
the field keeps the printable keys (q, n, digits) and ctrl+c (copy): ctrl+q quits from anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from textual.binding import Binding, BindingType


class Action(NamedTuple):
    id: str  # stable: a keymap.toml line `id = "key"` remaps it
    key: str  # Textual key names, comma-separated for several
    action: str  # the action method (action_<name>) of the context's screen or widget
    label: str  # key bar text
    help: str  # palette help / tooltip
    tab: str = "any"  # workbench only: "connection" | "listener" | "any"
    show: bool = True  # in the key bar (every workbench action is in the palette)
    context: str = "workbench"  # who binds it: see CONTEXTS
    priority: bool = False

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.label, show=self.show, tooltip=self.help, id=self.id,
                       priority=self.priority)


ACTIONS: tuple[Action, ...] = (
    # From the Listener tab too: it shows the Connection tab with the run it starts.
    Action("run", "ctrl+r", "run", "Run", "Run the composed connection (Enter on a profile runs it)", "any"),
    Action("cancel", "ctrl+g", "cancel", "Cancel", "Cancel the run in flight (closes its socket)", "connection"),
    Action("form", "f7", "form", "Form", "Open the Compose form on the selected profile (again: back to the results)",
           "connection"),
    Action("new", "n", "new_connection", "New", "A new connection: the form, empty, with the host field focused "
           "(not while typing in a field)", "connection", show=False),
    Action("switch-tab", "ctrl+t", "switch_tab", "Tab", "Switch between the Connection and Listener tabs", "any"),
    Action("copy", "ctrl+y", "copy_command", "Copy", "Copy / share: save this run to a file, or show and copy the "
           "equivalent curl / openssl / tlsbench lines", "connection"),
    Action("history", "f4", "compare", "History", "The runs of this connection (a profile's kept runs), newest "
           "first: Enter compares the previous one with this run, Space marks two to compare", "connection"),
    Action("expand", "f6", "expand_all", "Expand", "Expand every stage row and certificate", "connection"),
    Action("save", "ctrl+s", "save_profile", "Save", "Save the composed connection as a profile", "connection"),
    Action("why", "f12", "diagnose", "Why?", "Try variants of this run (SNI, versions, trust, proxy...) and say what "
           "makes it work", "connection"),
    Action("repeat", "f10", "repeat", "Repeat", "Run the connection again and again: times per stage, ports, "
           "certificates, findings counted", "connection"),
    # The findings panel shows this key where a finding's suggestion can be applied as it is.
    Action("apply-fix", "ctrl+f", "apply_suggestion", "Apply fix", "Apply the suggested change of the first finding "
           "that has one to the form, and run again", "connection", show=False),
    Action("target", "ctrl+l", "target", "Target", "Type or paste HOST:PORT, a URL, or a curl / openssl s_client / "
           "tlsbench probe line in the target bar; Enter fills the form from it and runs", "any", show=False),
    Action("pcap", "ctrl+b", "save_pcap", "Pcap", "Save the last run's bytes as a pcapng file: every connection, "
           "real addresses and times, the TLS secrets inside so Wireshark decrypts it, proxy passwords masked",
           "connection", show=False),
    Action("enumerate", "ctrl+n", "enumerate", "Enumerate", "Ask which TLS versions and cipher suites the server "
           "accepts", "connection", show=False),
    # Less frequent: in the command palette and the docs, not in the key bar (80 columns hold the rest).
    Action("rename", "f2", "rename_profile", "Rename", "Rename the selected profile", "connection", show=False),
    Action("duplicate", "f3", "duplicate_profile", "Duplicate", "Duplicate the selected profile", "connection",
           show=False),
    Action("delete", "f8", "delete_profile", "Delete", "Delete the selected profile (asks first)", "connection",
           show=False),
    Action("listener-start", "f5", "listener_start", "Start/Stop", "Start the listener, or stop it", "listener"),
    Action("listener-pause", "f9", "listener_pause", "Pause", "Pause accepting (clients wait in the accept queue), "
           "or resume", "listener"),
    Action("listener-probe", "ctrl+o", "listener_probe", "Probe it", "Probe this listener from the Connection tab",
           "listener"),
)

# The panels of the results, in order; keys 1-4 show (or focus) them.
PANELS: tuple[tuple[str, str], ...] = (("stages", "Stages"), ("chain", "Chain"), ("socket", "Socket"),
                                       ("findings", "Findings"))

TABS: tuple[tuple[str, str], ...] = (("connection", "Connection"), ("listener", "Listener"))

# Bound by the workbench screen but not palette entries of their own.
SCREEN_KEYS: tuple[Action, ...] = (
    Action("back", "escape", "back", "Back", "Close the form, else cancel the run in flight, else back to the "
           "profile list", show=False),
    *(Action(f"panel-{name}", str(i), f"panel('{name}')", label, f"Show the {label} panel of the results",
             "connection", show=False) for i, (name, label) in enumerate(PANELS, 1)),
)

# Bound by the App: reachable from every screen (ctrl+q even from a text field or a dialog).
APP_KEYS: tuple[Action, ...] = (
    Action("quit", "q", "quit", "Quit", "Quit tlsbench (where no text field has focus; in a dialog q closes it)",
           context="app"),
    Action("quit-anywhere", "ctrl+q", "quit", "Quit", "Quit tlsbench, from anywhere", context="app",
           show=False, priority=True),
    Action("quit-ctrl-c", "ctrl+c", "ctrl_c", "Quit", "Quit tlsbench where no text field has focus (in a text "
           "field ctrl+c copies the selection, and with none selected says which key quits)", context="app",
           show=False),
)

# The dialogs' and widgets' keys: context = the screen or widget that binds them.
OTHER_KEYS: tuple[Action, ...] = (
    Action("why-open-run", "enter", "open_variant", "Open run", "Show the highlighted variant's run in the results",
           context="diagnosis"),
    Action("why-use", "u", "use_variant", "Use this variant", "Put the highlighted variant in the form",
           context="diagnosis"),
    Action("why-close", "escape", "close", "Close", "Close (cancels a diagnosis in flight)", context="diagnosis"),
    Action("history-close", "escape,q", "close", "Close", "Close the history", context="history"),
    Action("history-mark", "space", "mark", "Mark", "Mark a run to compare", context="history"),
    Action("history-compare", "enter", "compare", "Compare", "Compare the marked runs (or the highlighted one "
           "with this run)", context="history", priority=True),
    Action("compare-close", "escape,q", "close", "Close", "Close the comparison", context="compare"),
    Action("enumerate-close", "escape", "close", "Close", "Close (cancels the enumeration)", context="enumeration"),
    Action("copy-copy", "c,ctrl+y", "copy", "Copy to clipboard", "Copy the shown lines", context="copy"),
    Action("copy-save", "s", "focus_save", "Save this run", "Save this run to a file", context="copy"),
    Action("copy-close", "escape,q", "close", "Close", "Close", context="copy"),
    Action("confirm-yes", "y", "answer(True)", "Yes", "Yes", context="confirm"),
    Action("confirm-no", "n,escape", "answer(False)", "No", "No", context="confirm"),
    Action("name-cancel", "escape", "cancel", "Cancel", "Cancel (nothing is saved)", context="name"),
    Action("pcap-cancel", "escape", "cancel", "Cancel", "Cancel (nothing is saved)", context="pcap"),
    Action("repeat-start", "ctrl+r", "start", "Start", "Start the series (Enter in a field does too)",
           context="repeat"),
    Action("repeat-stop", "ctrl+g", "stop", "Stop", "Stop the series (the run in flight is cancelled)",
           context="repeat"),
    Action("repeat-back", "escape", "back", "Back", "Stop, and back to the results with the last run",
           context="repeat"),
    Action("stage-toggle", "enter,space", "toggle", "Expand", "Expand or fold the stage", context="stage-row",
           show=False),
    Action("stage-previous", "up", "move(-1)", "Previous stage", "Previous stage", context="waterfall", show=False),
    Action("stage-next", "down", "move(1)", "Next stage", "Next stage", context="waterfall", show=False),
    Action("tab-previous", "left", "step(-1)", "Previous", "Previous tab", context="tab-strip", show=False),
    Action("tab-next", "right", "step(1)", "Next", "Next tab", context="tab-strip", show=False),
    Action("form-leave", "escape", "leave", "Back", "Leave the form: back to the results", context="form",
           show=False),
    Action("target-leave", "escape", "leave", "Back", "Leave the target bar", context="target-bar", show=False),
    Action("cert-copy", "c", "copy_cert", "Copy certificate", "Copy the selected certificate as PEM",
           context="chain-tree"),
    Action("chain-copy", "C", "copy_chain", "Copy chain", "Copy the whole chain as PEM", context="chain-tree"),
    Action("cert-save", "s", "save_cert", "Save certificate", "Save the selected certificate to a new file",
           context="chain-tree"),
    Action("chain-save", "S", "save_chain", "Save chain", "Save the whole chain to a new file", context="chain-tree"),
)

ALL_KEYS: tuple[Action, ...] = (*APP_KEYS, *ACTIONS, *SCREEN_KEYS, *OTHER_KEYS)


def bindings(context: str) -> list[BindingType]:
    """The Binding objects of one context ("workbench", "app", "diagnosis", "form", ...)."""
    return [entry.binding() for entry in ALL_KEYS if entry.context == context]


def action_tab(action: str) -> str | None:
    """The tab an action belongs to ("any" for both), or None when it is not in the table."""
    for entry in ACTIONS:
        if entry.action == action:
            return entry.tab
    return None


def key_of(entry: Action, keymap: Mapping[str, str]) -> str:
    """The key an entry has now: a keymap's, else its own."""
    return keymap.get(entry.id, entry.key)
