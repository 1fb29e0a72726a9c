// Tests for SD1 framing: every limit of docs/protocol.md maps to its code,
// and replies carry the envelope and request id back.
#include "server/protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace sessiond {
namespace {

Frames Msg(std::initializer_list<std::string> frames) { return Frames(frames); }

TEST(DecodeRequest, SplitsEnvelopeIdVerbAndArgs) {
  DecodedRequest d = DecodeRequest(
      Msg({"peer", "", "SD1", "42", "LOAD", "cookie", "{}"}), 65536);
  ASSERT_EQ(d.outcome, DecodedRequest::Outcome::kOk) << d.status.ToString();
  EXPECT_EQ(d.request.envelope, Frames{"peer"});
  EXPECT_EQ(d.request.request_id, "42");
  EXPECT_EQ(d.request.verb, "LOAD");
  EXPECT_EQ(d.request.args, (std::vector<std::string>{"cookie", "{}"}));
  EXPECT_EQ(d.request.arg(0), "cookie");
  EXPECT_EQ(d.request.arg(5), "");
}

TEST(DecodeRequest, EmptyRequestIdAndMultiFrameEnvelope) {
  DecodedRequest d =
      DecodeRequest(Msg({"proxy", "peer", "", "SD1", "", "PING"}), 65536);
  ASSERT_EQ(d.outcome, DecodedRequest::Outcome::kOk);
  EXPECT_EQ(d.request.envelope, (Frames{"proxy", "peer"}));
  EXPECT_EQ(d.request.request_id, "");
  EXPECT_TRUE(d.request.args.empty());
}

TEST(DecodeRequest, NoDelimiterIsDropped) {
  DecodedRequest d = DecodeRequest(Msg({"peer", "SD1", "1", "PING"}), 65536);
  EXPECT_EQ(d.outcome, DecodedRequest::Outcome::kDrop);
}

TEST(DecodeRequest, WrongTagIsInvalidArgumentAndKeepsId) {
  DecodedRequest d = DecodeRequest(Msg({"p", "", "SD2", "7", "PING"}), 65536);
  ASSERT_EQ(d.outcome, DecodedRequest::Outcome::kError);
  EXPECT_EQ(d.status.code(), Code::kInvalidArgument);
  EXPECT_EQ(d.request.request_id, "7");
  EXPECT_EQ(d.request.envelope, Frames{"p"});
}

TEST(DecodeRequest, TooFewFrames) {
  for (Frames f :
       {Msg({"p", ""}), Msg({"p", "", "SD1"}), Msg({"p", "", "SD1", "1"})}) {
    DecodedRequest d = DecodeRequest(f, 65536);
    ASSERT_EQ(d.outcome, DecodedRequest::Outcome::kError);
    EXPECT_EQ(d.status.code(), Code::kInvalidArgument);
  }
}

TEST(DecodeRequest, TooManyFrames) {
  Frames f = {"p", "", "SD1", "1", "PING"};
  while (f.size() - 1 <= kMaxRequestFrames) f.push_back("x");  // 17 frames
  DecodedRequest d = DecodeRequest(f, 65536);
  ASSERT_EQ(d.outcome, DecodedRequest::Outcome::kError);
  EXPECT_EQ(d.status.code(), Code::kTooLarge);
  EXPECT_EQ(d.request.request_id, "1");

  f.pop_back();  // exactly 16 from the delimiter on
  EXPECT_EQ(DecodeRequest(f, 65536).outcome, DecodedRequest::Outcome::kOk);
}

TEST(DecodeRequest, OversizedFrame) {
  DecodedRequest d = DecodeRequest(
      Msg({"p", "", "SD1", "1", "LOAD", std::string(1025, 'a')}), 1024);
  ASSERT_EQ(d.outcome, DecodedRequest::Outcome::kError);
  EXPECT_EQ(d.status.code(), Code::kTooLarge);
  EXPECT_EQ(
      DecodeRequest(Msg({"p", "", "SD1", "1", "LOAD", std::string(1024, 'a')}),
                    1024)
          .outcome,
      DecodedRequest::Outcome::kOk);
}

TEST(DecodeRequest, OversizedRequestIdIsAnsweredWithoutIt) {
  DecodedRequest d =
      DecodeRequest(Msg({"p", "", "SD1", std::string(65, 'i'), "PING"}), 65536);
  ASSERT_EQ(d.outcome, DecodedRequest::Outcome::kError);
  EXPECT_EQ(d.status.code(), Code::kTooLarge);
  EXPECT_EQ(d.request.request_id, "");
  EXPECT_EQ(
      DecodeRequest(Msg({"p", "", "SD1", std::string(64, 'i'), "PING"}), 65536)
          .outcome,
      DecodedRequest::Outcome::kOk);
}

TEST(DecodeRequest, GarbageVerbIsUnknownVerb) {
  for (const std::string& verb : std::vector<std::string>{
           "load", "LO AD", std::string("\xff\x00", 2), std::string(33, 'A')}) {
    DecodedRequest d = DecodeRequest(Msg({"p", "", "SD1", "1", verb}), 65536);
    ASSERT_EQ(d.outcome, DecodedRequest::Outcome::kError) << verb;
    EXPECT_EQ(d.status.code(), Code::kUnknownVerb);
  }
}

TEST(EncodeReply, OkAndError) {
  EXPECT_EQ(EncodeOkReply({"p"}, "9", {"PONG"}),
            (Frames{"p", "", "SD1", "9", "OK", "PONG"}));
  EXPECT_EQ(EncodeErrorReply({"a", "b"}, "",
                             Status(Code::kNotFound, "no such session")),
            (Frames{"a", "b", "", "SD1", "", "NOT_FOUND", "no such session"}));
  Frames bogus = EncodeErrorReply({}, "1", Status());
  EXPECT_EQ(bogus[3], "INTERNAL");
}

TEST(EncodeReply, ErrorDetailsTravelInTheFrameAfterTheMessage) {
  EXPECT_EQ(EncodeErrorReply({"p"}, "7",
                             Status(Code::kRevoked, "signed out",
                                    R"({"reason":"logout","at":5})")),
            (Frames{"p", "", "SD1", "7", "REVOKED", "signed out",
                    R"({"reason":"logout","at":5})"}));
}

}  // namespace
}  // namespace sessiond
