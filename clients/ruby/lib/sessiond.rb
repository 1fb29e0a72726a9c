# frozen_string_literal: true

# sessiond for Ruby: the SD1 client (Sessiond::Client, Sessiond::AdminClient)
# and its errors. The framework integrations load on demand:
#   require "sessiond/rack"    # Rack::Session store (any Rack app, Sinatra)
#   require "sessiond/rails"   # config.session_store :sessiond_store (Rails 6.1)

require_relative "sessiond/version"
require_relative "sessiond/errors"
require_relative "sessiond/protocol"
require_relative "sessiond/circuit_breaker"
require_relative "sessiond/client"
