"""`risklist-load`: read partner feeds, validate and digest every row, apply them to the store."""
