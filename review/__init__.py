"""The annotators' review web app (not built yet: see the open issues)."""
