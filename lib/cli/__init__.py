"""The local command line: run, check and inspect connectors against the sandbox services.

``python -m lib.cli <command>``; the commands are defined in :mod:`lib.cli.main`. It sits
with the local framework runtime (:mod:`lib`) because it plays the framework's part here:
it builds each job's context, runs it and reads back what the delta service stored.
"""
