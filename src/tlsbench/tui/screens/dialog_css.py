"""The CSS of the workbench's dialogs (confirm, name prompt, compare, copy as command), parsed when the
first one opens rather than at launch."""

DIALOG_CSS = """
.dialog-screen { align: center middle; background: $background 60%; }
.dialog { width: 64; max-width: 100%; height: auto; max-height: 90%; border: thick $primary; background: $surface;
          padding: 1 2; }
.dialog.wide { width: 90%; }
.dialog-text, .dialog-title { height: auto; margin-bottom: 1; }
.dialog-buttons { height: auto; align-horizontal: right; }
.dialog-buttons Button { margin-left: 1; }
#commands { height: auto; max-height: 30; border-top: solid $panel-lighten-2; }
.command-tool { margin-top: 1; }
.command-line { background: $boost; padding: 0 1; }
.command-note { color: $text-muted; }
.command-cannot { color: $warning; }
#compare-table { height: auto; max-height: 14; }
#compare-findings { margin-top: 1; height: auto; }
"""
