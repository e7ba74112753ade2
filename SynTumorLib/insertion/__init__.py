"""insertion layer."""
