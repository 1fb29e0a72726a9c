# frozen_string_literal: true

# The version of the Ruby client, kept equal to sessiond's own (CHANGES.md).
module Sessiond
  VERSION = "0.1.0"
end
