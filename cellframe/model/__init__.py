"""The reconstruction problem: geometries, objectives, penalty terms, clusters, feasibility, cells and their measurements."""
