"""The dashboard every signed-in user lands on."""

from console.home.routes import bp

__all__ = ["bp"]
