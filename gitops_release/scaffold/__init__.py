"""Render templates/app into an app directory (pure file output), checked by lint."""
