"""Users and roles, sessions, the model-version lifecycle (maker-checker) and lineage queries.

Every service here changes state through ``WorkspaceContext.record(...)`` in the same transaction.
"""
