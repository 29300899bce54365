"""Argo CD and Argo Rollouts: HTTP (the only requests importer), the client, its wire model, rollout control and waits."""
