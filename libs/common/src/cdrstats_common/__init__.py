"""Infrastructure shared by every CDR-Stats service (never another service's domain logic)."""
