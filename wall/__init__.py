"""IOC Wall: the real-time operations wall of a smart-city Intelligent Operations Center."""


def create_app(*args, **kwargs):
    """The Dash wall (see wall.app.create_app); imported on use so `python -m wall check` and
    the feed workers never load Dash."""
    from wall.app import create_app as create

    return create(*args, **kwargs)


__all__ = ["create_app"]
