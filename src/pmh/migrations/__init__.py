"""Alembic revisions, shipped inside the package so that an installed hub can migrate itself."""
