"""Users, roles, API tokens and role-based access control."""
