"""YAML: read it, locate images in it as spans, splice new values in, verify the splice. The only ruamel.yaml importer."""
