# frozen_string_literal: true

# rackup / puma entry of the "your devices" example (run.sh starts it).
require_relative "app"
run DevicesDemo::Application
