"""Log management: pseudonymised log lines, sealed log segments, retention per log type."""
