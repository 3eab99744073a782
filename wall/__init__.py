"""IOC Wall: the real-time operations wall of a smart-city Intelligent Operations Center."""
