// libFuzzer target for every DBSC decoder of browser input: the proof JWT
// (with its JWK), the request header fields, and the structured-field
// parser under them. Built with SESSIOND_FUZZ (the 'fuzz' preset).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dbsc/headers.h"
#include "dbsc/proof.h"
#include "dbsc/structured_field.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::dbsc;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto proof = Proof::Parse(in); proof.ok() && proof->header_key()) {
    VerifyRegistration(*proof, {.challenge = "c"}).status().IgnoreError();
    VerifyRefresh(*proof, *proof->header_key(),
                  {.challenge = "c", .session_id = "s"})
        .IgnoreError();
  }
  PublicKey::FromJwk(in).status().IgnoreError();
  ParseResponseHeader(in).status().IgnoreError();
  ParseSessionIdHeader(in).status().IgnoreError();
  ParseSkippedHeader(in).status().IgnoreError();
  ParseRegistrationHeader(in).status().IgnoreError();
  if (auto list = sf::ParseList(in); list.ok()) {
    // What parses must serialize, unless it holds a value with no
    // serialization (decimals are rounded, so no exact round trip).
    sf::SerializeList(*list).status().IgnoreError();
  }
  return 0;
}
