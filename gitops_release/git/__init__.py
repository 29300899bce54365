"""Git: the work tree, landing a commit, credentials and the release trailers. The only GitPython importer."""
