"""Versioned schemas of the values streamledger keeps in Flink keyed state.

Why not let Flink pickle Python objects? A pickled dataclass ties a savepoint to the exact class
layout of the code that wrote it; renaming a field would make old savepoints unreadable. Here each
state value is stored as ``<version byte><Avro body>`` with the schema ``<name>.v<N>.avsc`` in this
folder, so a new job version can read every older version and upgrade it on first access.

Upgrade rules (enforced by review and by the savepoint tests):
1. Never edit a released ``.vN.avsc``; add ``.v(N+1).avsc`` and register an upgrade function
   from N to N+1 in the codec.
2. New fields get a default, so an upgrade is a pure function of the old value.
3. The state descriptor name and the operator ``uid`` never change (see jobs/README.md).

Each value's versions, what they changed and their upgrade functions: ``state/README.md``.
"""
