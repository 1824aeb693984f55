"""Recipes built from the layers below: serial console, doctor, batch, undo."""
