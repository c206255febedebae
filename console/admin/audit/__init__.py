"""The audit log viewer, its CSV export and batched audit writes."""
