"""The use cases: plain functions over domain values and their collaborators, raising domain errors."""
