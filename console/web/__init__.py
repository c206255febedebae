"""Generic web helpers: htmx fragments, query-string parsing, keyset paging, CSV."""
