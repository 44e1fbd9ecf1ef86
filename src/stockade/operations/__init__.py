"""Operations: backup and restore of a workspace (archive, sealed keys, database snapshot)."""
