"""Everyone's live sessions: list and end them."""
