"""gitops-release: blue-green releases with Argo CD and Argo Rollouts, GitOps-style."""

__version__ = "0.1.0"
