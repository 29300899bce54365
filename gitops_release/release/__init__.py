"""Orchestration: bump-image, deploy, rollback and abort, the Argo CD commands, smoke checks."""
