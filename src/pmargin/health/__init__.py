"""Account health: equity against IM and MM, utilisation, and status."""

from pmargin.health._status import AccountHealth, HealthStatus, assess

__all__ = ["AccountHealth", "HealthStatus", "assess"]
