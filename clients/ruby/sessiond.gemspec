# frozen_string_literal: true

# The gem of sessiond's Ruby client and its Rack and Rails integrations.
# Debian packages provide every dependency (ruby-ffi-rzmq, ruby-rack,
# ruby-rails); `gem build sessiond.gemspec` makes an installable gem.

require_relative "lib/sessiond/version"

Gem::Specification.new do |s|
  s.name = "sessiond"
  s.version = Sessiond::VERSION
  s.summary = "Client of sessiond (SD1 over ZeroMQ), a Rack session store and a Rails session store"
  s.description = <<~TEXT
    sessiond is a session server for web applications. This gem is its Ruby
    client (every SD1 verb over ZeroMQ with ffi-rzmq: timeouts, a socket per
    thread, a circuit breaker), a Rack session store
    (Rack::Session::Sessiond) and a Rails session store
    (config.session_store :sessiond_store): a request's changes committed as
    one atomic change set of what changed, login regenerating the session,
    flash shown exactly once, CSRF tokens from sessiond, "your devices" and
    "sign out all other locations".
  TEXT
  s.license = "MIT"
  s.authors = ["sessiond maintainers"]
  s.homepage = "https://example.invalid/sessiond"
  s.required_ruby_version = ">= 3.0"
  s.files = Dir["lib/**/*.rb"] + ["README.md", "sessiond.gemspec"]
  s.require_paths = ["lib"]
  s.metadata = { "rubygems_mfa_required" => "true" }

  s.add_dependency "ffi-rzmq", ">= 2.0", "< 3"
  s.add_dependency "rack", ">= 2.2", "< 3"
  # Rails (actionpack >= 6.1) is needed only for require "sessiond/rails".

  s.add_development_dependency "minitest", ">= 5.15"
  s.add_development_dependency "rack-test", ">= 2.0"
  s.add_development_dependency "rails", ">= 6.1", "< 7"
  s.add_development_dependency "sinatra", ">= 3.0"
end
