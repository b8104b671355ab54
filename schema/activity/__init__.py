"""Activity: topics, workflows, workflow updates and performance reviews (types, queries, mutations, SQL)."""
