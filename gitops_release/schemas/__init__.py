"""JSON schemas of the objects lint checks (package data); ``validate`` reads them."""
