"""The framework integrations the contract suite runs against.

Each entry names an executable `serve` script of a client and the framework
argument it takes: `serve <framework> <port>` serves that framework's
contract app on 127.0.0.1:<port>, reading the app socket from the
environment (SESSIOND_ENDPOINT, SESSIOND_ADMIN_ENDPOINT). ROUND.md and
docs/integrations.md describe the routes. One line per integration.
"""

APPS = {
    # name: (serve script relative to the repository root, framework)
    "django": ("clients/python/contract/serve", "django"),
    "express": ("clients/node/contract/serve", "express"),
    "flask": ("clients/python/contract/serve", "flask"),
    "php": ("clients/php/contract/serve", "php"),
    "pyramid": ("clients/python/contract/serve", "pyramid"),
    "rack": ("clients/ruby/contract/serve", "rack"),
    "rails": ("clients/ruby/contract/serve", "rails"),
}
