"""The entry points' side: the composition root that builds the collaborators from the settings."""
