"""The sources registry (``sources.yaml``) and what a data engineer asks of it: the state of
every source (``kho sources status``) and the one step a scheduler runs (``kho sources run``).
See docs/sources.md."""
