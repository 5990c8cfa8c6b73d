"""Change records: categories from the policy, four-eyes approval, evidence of every step."""
