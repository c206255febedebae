"""Roles and the permissions they grant."""
