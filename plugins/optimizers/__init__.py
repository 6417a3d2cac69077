"""Optimizer stages: what searches the objective (particle swarms, genetic algorithms)."""
