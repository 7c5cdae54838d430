"""Where state lives on disk, and how it survives a crash: files, paths, the state file, the grant journal, the
credential and its backends.
"""
