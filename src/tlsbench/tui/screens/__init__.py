"""Screens and modal dialogs of the workbench."""
