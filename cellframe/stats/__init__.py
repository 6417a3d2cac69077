"""Statistics for the analyses: features against their null, small-sample inference, cohorts, figures."""
