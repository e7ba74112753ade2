"""Small shared helpers: errors, atomic writes, JSON, seeding, progress."""
