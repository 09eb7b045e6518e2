"""The ``rapport`` command line: the composition root for the console and admin tasks."""
