"""The HTTP service: routes, access keys, guards, docs."""
