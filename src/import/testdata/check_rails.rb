#!/usr/bin/ruby
# Reads back, with the real Rails 6.1, the cookies sessiond's Render made
# (import_vector_test writes rails_rendered.json into the vectors
# directory): each must be accepted by the cookie jar CookieStore reads,
# with the data sessiond rendered. Run by CTest as import_readback_ruby.
require "optparse"
require_relative "mint_rails"

dir = nil
OptionParser.new { |o| o.on("--vectors DIR") { |d| dir = d } }.parse!
abort "usage: check_rails.rb --vectors DIR" unless dir
entries = JSON.parse(File.read(File.join(dir, "rails_rendered.json")))
failures = 0
failures += 1 if entries.size < 10
entries.each do |e|
  cookie = [e["cookie"]].pack("H*").force_encoding("UTF-8")
  answer = read(e["config"], cookie, e["now_us"])
  if answer.nil? || !answer[0]
    failures += 1
    puts "rails #{e['name']}: Rails refuses our cookie (#{answer && answer[1]})"
    next
  end
  want = JSON.parse(e["data"], allow_nan: true)
  got = JSON.parse(answer[1], allow_nan: true)
  next if JSON.generate(got, allow_nan: true) == JSON.generate(want, allow_nan: true)

  failures += 1
  puts "rails #{e['name']}: data differs\n  Rails:    #{answer[1][0, 300]}\n  sessiond: #{e['data'][0, 300]}"
end
puts "check_rails: #{entries.size} rendered cookies read back, #{failures} failures"
exit(failures.zero? ? 0 : 1)
