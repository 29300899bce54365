"""Analysis gates from the CI job: AnalysisTemplates read, their conditions compiled and their web/prometheus metrics measured with the analysis controller's semantics (``verify --analysis``)."""
