"""Check an app directory the way Argo Rollouts and Argo CD see it (see ``check``)."""
