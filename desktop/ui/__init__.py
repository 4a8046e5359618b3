"""Widgets: views that observe the state objects of ``desktop.model``."""
