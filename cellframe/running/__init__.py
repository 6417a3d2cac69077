"""Running: the pipeline over patches, executors, MLflow tracking, resume state, slides' seams, studies."""
