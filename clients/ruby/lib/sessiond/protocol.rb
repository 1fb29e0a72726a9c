# frozen_string_literal: true

# SD1 frames and values (docs/protocol.md): building requests, splitting
# replies, and the typed result of each verb. Pure functions, no sockets.
#
#   request, as a DEALER sends it:  "" | "SD1" | request id | VERB | args...
#   reply, as a DEALER receives it: "" | "SD1" | request id | STATUS | results...
#
# STATUS is "OK" or an error code; on an error the results are a message and
# optionally (frame 5) a JSON object of details.

require "json"
require_relative "errors"

module Sessiond
  module Protocol
    TAG = "SD1"
    MAX_FRAMES = 16
    MAX_FRAME_BYTES = 65_536
    MAX_REQUEST_ID_BYTES = 64
    EMPTY = "".b.freeze
    TAG_BYTES = TAG.b.freeze
    OK = "OK".b.freeze

    module_function

    # A frame (binary String) from a String, an Integer (decimal) or nil
    # (empty). Raises TypeError for anything else.
    def frame(value)
      case value
      when nil then EMPTY
      when String then value.b
      when Integer then value.to_s.b
      else raise TypeError, "cannot send #{value.class} as a frame"
      end
    end

    # One compact JSON frame.
    def json_frame(value)
      JSON.generate(value).b
    end

    # The frames of one request, with the empty delimiter a DEALER sends.
    # Raises TooLarge when it breaks a protocol limit, so a request the
    # server would refuse never leaves the process.
    def encode_request(request_id, verb, args = [])
      frames = [EMPTY, TAG_BYTES, frame(request_id), frame(verb)]
      args.each { |a| frames << frame(a) }
      if frames.size > MAX_FRAMES
        raise TooLarge, "#{verb}: #{frames.size} frames, limit #{MAX_FRAMES}"
      end
      frames.each do |f|
        next if f.bytesize <= MAX_FRAME_BYTES

        raise TooLarge, "#{verb}: a frame of #{f.bytesize} bytes, limit #{MAX_FRAME_BYTES}"
      end
      frames
    end

    # The request id of reply frames, or nil when they are not SD1.
    def reply_id(frames)
      return nil unless frames.size >= 3 && frames[0].empty? && frames[1] == TAG_BYTES

      frames[2]
    end

    # The OK results of reply frames. Raises the Sessiond::Error of an error
    # status (with its details), ProtocolError when the frames are not SD1.
    def results(frames)
      unless frames.size >= 4 && frames[0].empty? && frames[1] == TAG_BYTES
        raise ProtocolError, "not an SD1 reply: #{frames.first(4).inspect}"
      end
      status = frames[3]
      return frames.drop(4) if status == OK

      message = frames[4] ? text(frames[4], strict: false) : ""
      details = nil
      if frames[5] && !frames[5].empty?
        parsed = begin
          JSON.parse(frames[5])
        rescue JSON::ParserError
          nil # details are advisory: a bad frame must not hide the error
        end
        details = parsed if parsed.is_a?(Hash)
      end
      raise Sessiond.error_for(status.dup.force_encoding(Encoding::UTF_8), message, details)
    end

    def text(frame, strict: true)
      s = frame.dup.force_encoding(Encoding::UTF_8)
      return s if s.valid_encoding?
      raise ProtocolError, "frame is not UTF-8" if strict

      s.scrub
    end

    def json(frame)
      JSON.parse(frame)
    rescue JSON::ParserError => e
      raise ProtocolError, "frame is not JSON: #{e.message}"
    end

    def integer(frame)
      Integer(frame, 10)
    rescue ArgumentError
      raise ProtocolError, "frame is not an integer: #{frame.inspect}"
    end

    def need(results, count, verb)
      return if results.size >= count

      raise ProtocolError, "#{verb} reply has #{results.size} result frames, expected #{count}"
    end

    # The optional {"ip", "user_agent"} frame, or nil when both are empty.
    def metadata_frame(ip, user_agent)
      meta = {}
      meta["ip"] = ip.to_s if ip && !ip.to_s.empty?
      meta["user_agent"] = user_agent.to_s if user_agent && !user_agent.to_s.empty?
      meta.empty? ? nil : json_frame(meta)
    end
  end

  # One flash message waiting in a queue ("" is the default queue).
  FlashMessage = Struct.new(:queue, :message)

  # The session JSON of docs/protocol.md. data holds strings exactly as
  # stored (the framework layers keep JSON in them). Lists (LIST_SESSIONS,
  # USER_LIST) leave data, flash and csrf_token empty and set current. raw
  # is the JSON object as received, members this client does not know
  # included.
  Session = Struct.new(
    :id, :user_id, :csrf_token, :data, :flash, :created_at, :last_seen_at,
    :expires_at, :idle_timeout, :authenticated_at, :ip, :user_agent,
    :version, :new, :current, :raw, keyword_init: true
  ) do
    def self.from_json(obj)
      raise ProtocolError, "session JSON is not an object" unless obj.is_a?(Hash)

      flash = (obj["flash"] || []).filter_map do |f|
        FlashMessage.new(f["queue"].to_s, f["message"].to_s) if f.is_a?(Hash)
      end
      data = {}
      (obj["data"] || {}).each { |k, v| data[k.to_s] = v.to_s }
      new(
        id: obj["id"].to_s, user_id: obj["user_id"].to_s,
        csrf_token: obj["csrf_token"].to_s, data: data, flash: flash,
        created_at: obj["created_at"].to_i, last_seen_at: obj["last_seen_at"].to_i,
        expires_at: obj["expires_at"].to_i, idle_timeout: obj["idle_timeout"].to_i,
        authenticated_at: obj["authenticated_at"].to_i,
        ip: obj["ip"].to_s, user_agent: obj["user_agent"].to_s,
        version: obj["version"].to_i, new: obj["new"] == true,
        current: obj["current"] == true, raw: obj
      )
    end

    def anonymous?
      user_id.empty?
    end
  end

  # The reply of every verb that returns a session. cookie is what the
  # browser must hold from now on; set_cookie the Set-Cookie header value to
  # send, or "" when the browser's cookie is already right.
  SessionReply = Struct.new(:cookie, :set_cookie, :session)

  # FLASH: the session after the pop and the popped messages, oldest first.
  FlashReply = Struct.new(:reply, :messages)

  # IMPORT: the session an old framework cookie became and the report
  # (format, user_id, legacy, old_expires_at, renamed, unmapped, created:
  # false when an earlier import of the same cookie made this session).
  ImportReply = Struct.new(:reply, :report) do
    def created?
      report["created"] != false
    end
  end

  # EXPORT: the session as the old framework's cookie value and the report
  # (format, user_id, expires_at, unmapped).
  ExportReply = Struct.new(:cookie, :report)

  # LOGOUT: set_cookie deletes the browser's cookie.
  LogoutReply = Struct.new(:set_cookie)

  # DBSC_REGISTER and DBSC_REFRESH: the session with its new cookie, and the
  # binding (a Hash: "dbsc_id", "challenge", "set_cookie", "instructions",
  # "bound_until"; docs/dbsc.md).
  DbscReply = Struct.new(:reply, :binding)

  # REVOKE_OTHERS: how many other sessions ended (nil when the server does
  # not say, as in client mode) and, in client mode, the re-issued session
  # of this browser (nil in server and hybrid mode).
  RevokeOthersReply = Struct.new(:ended, :reply)

  # The cookie attributes sessiond renders (HELLO's "cookie" object).
  CookieSettings = Struct.new(:name, :path, :domain, :secure, :http_only,
                              :same_site, :max_age, keyword_init: true)

  # HELLO: what the server is and how it renders cookies. One source of
  # truth for every integration's cookie name and attributes.
  Hello = Struct.new(:protocol, :server, :mode, :cookie, :lifetime,
                     :idle_timeout, :max_data_bytes, :raw, keyword_init: true) do
    def self.from_json(obj)
      raise ProtocolError, "HELLO reply is not a JSON object" unless obj.is_a?(Hash)

      c = obj["cookie"].is_a?(Hash) ? obj["cookie"] : {}
      cookie = CookieSettings.new(
        name: c["name"].to_s, path: (c["path"] || "/").to_s,
        domain: c["domain"].to_s, secure: c["secure"] != false,
        http_only: c["http_only"] != false, same_site: (c["same_site"] || "Lax").to_s,
        max_age: c["max_age"]&.to_i
      )
      new(protocol: obj["protocol"].to_s, server: obj["server"].to_s,
          mode: obj["mode"].to_s, cookie: cookie, lifetime: obj["lifetime"]&.to_i,
          idle_timeout: obj["idle_timeout"]&.to_i,
          max_data_bytes: obj["max_data_bytes"]&.to_i, raw: obj)
    end
  end

  # Parsers: OK result frames -> typed value. Each raises ProtocolError when
  # the frames do not have the documented shape.
  module Parse
    module_function

    def text(results, verb)
      Protocol.need(results, 1, verb)
      Protocol.text(results[0])
    end

    def session(results, verb)
      Protocol.need(results, 3, verb)
      SessionReply.new(Protocol.text(results[0]), Protocol.text(results[1]),
                       Session.from_json(Protocol.json(results[2])))
    end

    def flash(results, verb)
      reply = session(results, verb)
      Protocol.need(results, 4, verb)
      messages = Protocol.json(results[3])
      raise ProtocolError, "FLASH messages are not a JSON array" unless messages.is_a?(Array)

      FlashReply.new(reply, messages.map(&:to_s))
    end

    def import_reply(results, verb)
      reply = session(results, verb)
      Protocol.need(results, 4, verb)
      report = Protocol.json(results[3])
      raise ProtocolError, "IMPORT report is not a JSON object" unless report.is_a?(Hash)

      ImportReply.new(reply, report)
    end

    def export_reply(results, verb)
      Protocol.need(results, 2, verb)
      report = Protocol.json(results[1])
      raise ProtocolError, "EXPORT report is not a JSON object" unless report.is_a?(Hash)

      ExportReply.new(Protocol.text(results[0]), report)
    end

    def logout(results, verb)
      Protocol.need(results, 2, verb)
      LogoutReply.new(Protocol.text(results[1]))
    end

    def nothing(_results, _verb)
      nil
    end

    def integer(results, verb)
      Protocol.need(results, 1, verb)
      Protocol.integer(results[0])
    end

    # Server and hybrid mode: one integer frame. Client mode: a session reply.
    def revoke_others(results, verb)
      return RevokeOthersReply.new(nil, session(results, verb)) if results.size >= 3

      RevokeOthersReply.new(integer(results, verb), nil)
    end

    def session_list(results, verb)
      Protocol.need(results, 1, verb)
      items = Protocol.json(results[0])
      raise ProtocolError, "#{verb} result is not a JSON array" unless items.is_a?(Array)

      items.map { |item| Session.from_json(item) }
    end

    def json_object(results, verb)
      Protocol.need(results, 1, verb)
      obj = Protocol.json(results[0])
      raise ProtocolError, "#{verb} result is not a JSON object" unless obj.is_a?(Hash)

      obj
    end

    def hello(results, verb)
      Hello.from_json(json_object(results, verb))
    end

    def dbsc(results, verb)
      reply = session(results, verb)
      Protocol.need(results, 4, verb)
      binding = Protocol.json(results[3])
      raise ProtocolError, "#{verb} binding is not a JSON object" unless binding.is_a?(Hash)

      DbscReply.new(reply, binding)
    end
  end
end
