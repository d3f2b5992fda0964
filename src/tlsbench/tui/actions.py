"""Every key of the workbench in one table: it feeds the bindings, the footer and the command palette.

A key has one meaning everywhere. Each action belongs to a tab ("connection", "listener") or to
both ("any"); the footer shows the actions of the tab that is shown, and the command palette
offers all of them, switching tabs first when needed.
"""

from __future__ import annotations

from typing import NamedTuple


class Action(NamedTuple):
    key: str
    action: str  # the screen's action_<name>
    label: str  # footer text
    help: str  # palette help
    tab: str  # "connection" | "listener" | "any"
    show: bool = True  # in the footer (every action is in the palette)


ACTIONS: tuple[Action, ...] = (
    Action("ctrl+r", "run", "Run", "Run the composed connection (Enter on a profile runs it)", "connection"),
    Action("ctrl+g", "cancel", "Cancel", "Cancel the run in flight (closes its socket)", "connection"),
    Action("f7", "form", "Form", "Open the Compose form on the selected profile (again: back to the results)",
           "connection"),
    Action("ctrl+t", "switch_tab", "Tab", "Switch between the Connection and Listener tabs", "any"),
    Action("ctrl+y", "copy_command", "Copy", "Copy / share: save this run to a file, or show and copy the "
           "equivalent curl / openssl / tlsbench lines",
           "connection"),
    Action("f4", "compare", "History", "The runs of this connection (a profile's kept runs), newest first: Enter "
           "compares the previous one with this run, Space marks two to compare", "connection"),
    Action("f6", "expand_all", "Expand", "Expand every stage row and certificate", "connection"),
    Action("ctrl+s", "save_profile", "Save", "Save the composed connection as a profile", "connection"),
    Action("f12", "diagnose", "Why?", "Try variants of this run (SNI, versions, trust, proxy...) and say what "
           "makes it work", "connection"),
    Action("f10", "repeat", "Repeat", "Run the connection again and again: times per stage, ports, certificates, "
           "findings counted", "connection"),
    # The findings panel shows this key where a finding's suggestion can be applied as it is.
    Action("ctrl+f", "apply_suggestion", "Apply fix", "Apply the suggested change of the first finding that has "
           "one to the form, and run again", "connection", show=False),
    Action("ctrl+l", "target", "Target", "Type or paste HOST:PORT, a URL, or a curl / openssl s_client / tlsbench "
           "probe line in the target bar; Enter fills the form from it and runs", "any", show=False),
    Action("ctrl+n", "enumerate", "Enumerate", "Ask which TLS versions and cipher suites the server accepts",
           "connection", show=False),
    # Less frequent: in the command palette and the README, not in the footer (80 columns hold the rest).
    Action("f2", "rename_profile", "Rename", "Rename the selected profile", "connection", show=False),
    Action("f3", "duplicate_profile", "Duplicate", "Duplicate the selected profile", "connection", show=False),
    Action("f8", "delete_profile", "Delete", "Delete the selected profile (asks first)", "connection", show=False),
    Action("f5", "listener_start", "Start/Stop", "Start the listener, or stop it", "listener"),
    Action("f9", "listener_pause", "Pause", "Pause accepting (clients wait in the accept queue), or resume",
           "listener"),
    Action("ctrl+o", "listener_probe", "Probe it", "Probe this listener from the Connection tab", "listener"),
)

# The panels of the results, in order; keys 1-4 show (or focus) them.
PANELS: tuple[tuple[str, str], ...] = (("stages", "Stages"), ("chain", "Chain"), ("socket", "Socket"),
                                       ("findings", "Findings"))

TABS: tuple[tuple[str, str], ...] = (("connection", "Connection"), ("listener", "Listener"))


def action_tab(action: str) -> str | None:
    """The tab an action belongs to ("any" for both), or None when it is not in the table."""
    for entry in ACTIONS:
        if entry.action == action:
            return entry.tab
    return None
