"""A plugin that fails to import: the others must still load."""

raise ImportError("this plugin needs a library that is not installed")
