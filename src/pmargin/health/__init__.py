"""Account health: equity against IM and MM, utilisation, and status."""

from pmargin.health._status import AccountHealth, HealthStatus, account_status, assess

__all__ = ["AccountHealth", "HealthStatus", "account_status", "assess"]
