# frozen_string_literal: true

# The contract app (docs/integrations.md, tests/contract/) on plain Rack:
# the routes through env["rack.session"] and the integration's helpers
# (Sessiond::Rack.helpers), CSRF by Sessiond::Rack::Csrf (X-CSRF-Token).

require "json"
require "rack"
require "sessiond/rack"

module ContractRack
  JSON_TYPE = { "Content-Type" => "application/json" }.freeze

  def self.json(value, status = 200)
    [status, JSON_TYPE.dup, [JSON.generate(value)]]
  end

  def self.device(d)
    { "id" => d.id, "current" => d.current, "ip" => d.ip, "user_agent" => d.user_agent,
      "created_at" => d.created_at, "authenticated_at" => d.authenticated_at,
      "last_seen_at" => d.last_seen_at, "expires_at" => d.expires_at }
  end

  # The routes, as one Rack endpoint.
  ROUTES = lambda do |env|
    req = Rack::Request.new(env)
    session = env["rack.session"]
    sessiond = Sessiond::Rack.helpers(env)
    p = req.params
    case [req.request_method, req.path_info]
    when ["GET", "/health"] then json("ok" => true)
    when ["GET", "/whoami"] then json("user" => session["user_id"].to_s)
    when ["GET", "/get"]
      key = p["key"].to_s
      json("present" => session.key?(key), "value" => session[key])
    when ["POST", "/set"]
      session[p["key"].to_s] = JSON.parse(p["value"].to_s)
      sleep(p["delay_ms"].to_i / 1000.0) if p["delay_ms"]
      json("ok" => true)
    when ["POST", "/delete"]
      session.delete(p["key"].to_s)
      json("ok" => true)
    when ["POST", "/login"]
      session["user_id"] = p["user"].to_s # the watched key: LOGIN at commit
      json("user" => p["user"].to_s)
    when ["POST", "/logout"]
      session.destroy
      json("ok" => true)
    when ["POST", "/flash"]
      sessiond.flash(p["message"].to_s)
      json("ok" => true)
    when ["GET", "/flashes"] then json("messages" => sessiond.flashes)
    when ["GET", "/csrf"] then json("token" => session["csrf"], "header" => Sessiond::Rack::Csrf::HEADER)
    when ["POST", "/rotate_csrf"] then json("token" => sessiond.rotate_csrf_token)
    when ["GET", "/devices"] then json("devices" => sessiond.devices.map { |d| device(d) })
    when ["POST", "/signout_others"] then json("ended" => sessiond.sign_out_other_locations)
    when ["POST", "/password_changed"]
      sessiond.password_changed
      json("ok" => true)
    when ["POST", "/big"]
      session["big"] = "x" * p["bytes"].to_i
      json("ok" => true)
    else json({ "error" => "not found" }, 404)
    end
  end

  def self.app(endpoint)
    Rack::Builder.new do
      use Rack::Session::Sessiond, endpoint: endpoint
      use Sessiond::Rack::Csrf
      run ROUTES
    end.to_app
  end
end
