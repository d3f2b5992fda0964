"""The Textual workbench: compose a connection, watch it run stage by stage, keep it as a profile."""
