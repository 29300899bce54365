"""What status, list and history show: gathered from Argo CD and Git, rendered as text and JSON."""
