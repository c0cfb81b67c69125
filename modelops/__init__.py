"""modelops: declarative recipes planned into reviewable, resumable model-ops runs."""

__version__ = "0.1.0"
