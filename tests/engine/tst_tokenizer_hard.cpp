// Tokenizer hard cases whose answers are known independently of this code: the Unicode standard's
// U+FFFD substitution example, SHA-256 test vectors and `sha256sum`, Unicode property facts,
// segment independence around added tokens (the documented tokenizers semantics), BPE on very long
// runs (time-bounded), streaming decode vs the fixtures' decoded text, and load errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/sha256.h"
#include "engine/tokenizer/streaming_decoder.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"
#include "tests/support/fixtures.h"

using moescope::Tokenizer;
using nlohmann::json;

namespace {

const char* kAll[] = {"qwen_bytelevel", "gpt2_bytelevel", "llama3_bytelevel", "sentencepiece_bpe"};

std::shared_ptr<Tokenizer> fixture(const std::string& name) { return Tokenizer::load(moescope::test::tokenizer_fixture(name)); }

json cases_of(const std::string& name) {
  std::ifstream in(moescope::test::tokenizer_fixture(name) + "/cases.json");
  return json::parse(in)["cases"];
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --- invalid UTF-8 ------------------------------------------------------------------------------

TEST(TokenizerUtf8, ReplacementFollowsUnicodeMaximalSubparts) {
  // The Unicode Standard, ch. 3 (U+FFFD substitution of maximal subparts), Table 3-8:
  // 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d
  const std::string bad = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(moescope::tok::sanitize_utf8(bad), "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
  EXPECT_FALSE(moescope::tok::is_valid_utf8(bad));
  // Surrogates and overlongs are ill-formed; a truncated sequence at the end is one U+FFFD.
  EXPECT_EQ(moescope::tok::sanitize_utf8("\xED\xA0\x80"), fffd + fffd + fffd);
  EXPECT_EQ(moescope::tok::sanitize_utf8("\xC0\xAF"), fffd + fffd);
  EXPECT_EQ(moescope::tok::sanitize_utf8("ok\xE6\x97"), "ok" + fffd);
  EXPECT_TRUE(moescope::tok::is_valid_utf8("\xF0\x9F\xA4\x96 \xC3\xA9"));
}

TEST(TokenizerUtf8, InvalidInputEncodesAsItsRepairedText) {
  const std::string bad = "ab\xFF\xFE cd\xE6\x97 x\xC3";
  const std::string repaired = "ab\xEF\xBF\xBD\xEF\xBF\xBD cd\xEF\xBF\xBD x\xEF\xBF\xBD";
  for (const char* name : kAll) {
    auto tok = fixture(name);
    EXPECT_EQ(tok->encode(bad, false), tok->encode(repaired, false)) << name;
    EXPECT_EQ(tok->encode(bad, true), tok->encode(repaired, true)) << name;
  }
}

TEST(TokenizerUtf8, RandomBytesNeverCrashAndByteLevelRoundTrips) {
  // gpt2_bytelevel has no normalizer: decoding the encoding gives back the repaired input exactly.
  auto gpt2 = fixture("gpt2_bytelevel");
  std::vector<std::shared_ptr<Tokenizer>> all;
  for (const char* name : kAll) all.push_back(fixture(name));
  std::mt19937 rng(1234);
  for (int round = 0; round < 300; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (auto& b : bytes) {
      // Mix ASCII, continuation bytes, lead bytes and the odd special-token character.
      const unsigned r = rng() % 10;
      b = static_cast<char>(r < 4 ? 0x20 + rng() % 0x5F : r < 6 ? 0x80 + rng() % 0x40 : r < 8 ? 0xC0 + rng() % 0x40 : "<|>s\n "[rng() % 6]);
    }
    const std::string repaired = moescope::tok::sanitize_utf8(bytes);
    ASSERT_TRUE(moescope::tok::is_valid_utf8(repaired));
    EXPECT_EQ(gpt2->decode(gpt2->encode(bytes, false)), repaired);
    for (const auto& tok : all) {
      const auto ids = tok->encode(bytes, true);
      const std::string text = tok->decode(ids);
      EXPECT_TRUE(moescope::tok::is_valid_utf8(text));
      moescope::StreamingDecoder sd(tok);
      std::string streamed;
      for (int32_t id : ids) streamed += sd.push(id);
      streamed += sd.finish();
      EXPECT_EQ(streamed, text);
      for (int32_t id : ids) EXPECT_TRUE(moescope::tok::is_valid_utf8(tok->display_piece(id)));
    }
  }
}

TEST(TokenizerUtf8, NfcSingletonIsNormalisedLikeTheRustLibrary) {
  // Found by fuzz_tokenizer_encode (its round-trip oracle forgot Qwen's NFC normalizer): U+0343
  // COMBINING GREEK KORONIS has a singleton decomposition, so NFC turns it into U+0313. Expected ids
  // recorded with the Rust `tokenizers` 0.23.3 on tests/fixtures/tokenizers/qwen_bytelevel.
  auto qwen = fixture("qwen_bytelevel");
  const std::string text = "\xcd\x83llo&\x02\xc4\x83llo";
  const auto ids = qwen->encode(text, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{136, 241, 75, 269, 5, 190, 128, 225, 75, 269}));
  EXPECT_EQ(qwen->decode(ids, false), "\xcc\x93llo&\x02\xc4\x83llo");  // U+0313, then unchanged
}

// --- added tokens next to text ------------------------------------------------------------------

TEST(TokenizerAddedTokens, EveryAddedTokenAdjacentToText) {
  // Added tokens split the text first and each side is tokenized on its own (for sentencepiece
  // the Prepend normalizer therefore applies to every segment, the README's "legacy" behaviour).
  for (const char* name : kAll) {
    auto tok = fixture(name);
    std::ifstream in(moescope::test::tokenizer_fixture(name) + "/tokenizer.json");
    const json tj = json::parse(in);
    for (const auto& a : tj["added_tokens"]) {
      const std::string t = a["content"];
      const int32_t id = a["id"];
      SCOPED_TRACE(std::string(name) + " " + t);
      const auto L = tok->encode("left", false), R = tok->encode("right", false), S = tok->encode(" ", false);
      EXPECT_EQ(tok->encode("left" + t, false), concat(L, {id}));
      EXPECT_EQ(tok->encode(t + "right", false), concat({id}, R));
      EXPECT_EQ(tok->encode("left" + t + "right", false), concat(concat(L, {id}), R));
      EXPECT_EQ(tok->encode(t + t, false), (std::vector<int32_t>{id, id}));
      EXPECT_EQ(tok->encode(" " + t + " ", false), concat(concat(S, {id}), S));
      EXPECT_EQ(tok->encode(t, false), std::vector<int32_t>{id});
      // Leftmost-longest: a prefix of the token followed by the token still finds the token.
      const std::string half = t.substr(0, t.size() / 2);
      EXPECT_EQ(tok->encode(half + t, false), concat(tok->encode(half, false), {id}));
      auto enc = tok->encode_with_tokens("x" + t, false);
      EXPECT_EQ(enc.tokens.back(), t);
    }
  }
}

// --- long runs ----------------------------------------------------------------------------------

TEST(TokenizerLongInput, RunOfOneLetterIsLinearish) {
  // The 50-x case of sentencepiece_bpe shows there is no x+x merge: "▁x" then "x" for the rest.
  auto tok = fixture("sentencepiece_bpe");
  const int32_t first = tok->token_to_id("\xE2\x96\x81x"), rest = tok->token_to_id("x");
  ASSERT_GE(first, 0);
  const size_t n = 200000;
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok->encode(std::string(n, 'x'), false);
  EXPECT_LT(seconds_since(t0), 5.0);
  ASSERT_EQ(ids.size(), n);
  EXPECT_EQ(ids[0], first);
  EXPECT_EQ(std::count(ids.begin() + 1, ids.end(), rest), static_cast<long>(n - 1));
}

TEST(TokenizerLongInput, LongRunsRoundTripQuickly) {
  for (const char* name : {"qwen_bytelevel", "gpt2_bytelevel", "llama3_bytelevel"}) {
    auto tok = fixture(name);
    for (const std::string unit : {"a", " ", "\n", "ab", "1", "\xC3\xA9", "\xE6\x97\xA5"}) {
      std::string text;
      for (int i = 0; i < 100000; ++i) text += unit;
      const auto t0 = std::chrono::steady_clock::now();
      const auto ids = tok->encode(text, false);
      EXPECT_LT(seconds_since(t0), 5.0) << name;
      EXPECT_LT(ids.size(), text.size() + 1);
      EXPECT_TRUE(tok->decode(ids) == text) << name << " unit " << unit;  // (no 100 kB diff on failure)
    }
  }
}

// --- streaming ----------------------------------------------------------------------------------

TEST(TokenizerStreaming, ConcatenatedPiecesEqualDecodedText) {
  for (const char* name : kAll) {
    auto tok = fixture(name);
    for (const auto& c : cases_of(name)) {
      moescope::StreamingDecoder sd(tok);
      std::string out;
      for (int32_t id : c["ids"].get<std::vector<int32_t>>()) {
        const std::string piece = sd.push(id);
        EXPECT_TRUE(moescope::tok::is_valid_utf8(piece));
        EXPECT_EQ(piece.find("\xEF\xBF\xBD"), std::string::npos) << name << ": incomplete character was not held back";
        out += piece;
      }
      out += sd.finish();
      EXPECT_EQ(out, c["decoded"].get<std::string>()) << name;
    }
  }
}

TEST(TokenizerStreaming, HoldsBackSplitCharacterAndStripsOnlyFirstSpace) {
  auto tok = fixture("sentencepiece_bpe");
  moescope::StreamingDecoder sd(tok);
  // "▁H" "el" "lo" "▁w": the first token's leading space goes, later ones stay.
  EXPECT_EQ(sd.push(tok->token_to_id("\xE2\x96\x81H")), "H");
  EXPECT_EQ(sd.push(tok->token_to_id("el")), "el");
  // 日 = E6 97 A5 as three byte tokens: nothing until the last one.
  EXPECT_EQ(sd.push(tok->token_to_id("<0xE6>")), "");
  EXPECT_EQ(sd.push(tok->token_to_id("<0x97>")), "");
  EXPECT_EQ(sd.push(tok->token_to_id("<0xA5>")), "\xE6\x97\xA5");
  EXPECT_EQ(sd.push(tok->token_to_id("\xE2\x96\x81w")), " w");
  // An unfinished character at the end comes out as U+FFFD.
  EXPECT_EQ(sd.push(tok->token_to_id("<0xE6>")), "");
  EXPECT_EQ(sd.finish(), "\xEF\xBF\xBD");
}

// --- display pieces -----------------------------------------------------------------------------

TEST(TokenizerDisplay, PiecesShowSpacesNewlinesAndPartialBytes) {
  auto sp = fixture("sentencepiece_bpe");
  EXPECT_EQ(sp->display_piece(sp->token_to_id("\xE2\x96\x81H")), " H");
  EXPECT_EQ(sp->display_piece(sp->token_to_id("\xE2\x96\x81the")), " the");
  EXPECT_EQ(sp->display_piece(sp->token_to_id("<0x0A>")), "\n");
  EXPECT_EQ(sp->display_piece(sp->token_to_id("<0xE6>")), "<0xE6>");
  EXPECT_EQ(sp->display_piece(1), "<s>");
  auto qw = fixture("qwen_bytelevel");
  EXPECT_EQ(qw->display_piece(qw->token_to_id("\xC4\xA0the")), " the");  // "Ġthe"
  EXPECT_EQ(qw->display_piece(qw->token_to_id("\xC4\x8A")), "\n");       // "Ċ"
  EXPECT_EQ(qw->display_piece(qw->token_to_id("\xC3\xA6")), "<0xE6>");   // "æ" stands for byte E6
  EXPECT_EQ(qw->display_piece(qw->token_to_id("<|im_end|>")), "<|im_end|>");
  EXPECT_EQ(qw->display_piece(123456), "");
  EXPECT_EQ(qw->token_text(-1), "");
  // Unknown ids are skipped by decode, as the Rust library does.
  EXPECT_EQ(qw->decode({qw->token_to_id("a"), 999999, qw->token_to_id("b")}), "ab");
}

// --- sha256 -------------------------------------------------------------------------------------

TEST(TokenizerSha256, NistVectorsAndSha256sum) {
  EXPECT_EQ(moescope::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(moescope::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(moescope::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(moescope::sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // The tokenizer's digest is that of the file's bytes, as the sha256sum tool computes it.
  const std::string file = moescope::test::tokenizer_fixture("qwen_bytelevel") + "/tokenizer.json";
  FILE* p = ::popen(("sha256sum '" + file + "'").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[65] = {};
  ASSERT_EQ(std::fread(buf, 1, 64, p), 64u);
  ::pclose(p);
  EXPECT_EQ(Tokenizer::load(file)->sha256(), std::string(buf, 64));
}

// --- Unicode semantics of regexes and normalizers -----------------------------------------------

TEST(TokenizerUnicode, OnigurumaWhitespaceAndWordClasses) {
  using moescope::tok::Regex;
  Regex s(R"(\s+)", "test");
  // White_Space includes NBSP, U+3000, U+0085 (NEL), U+2028; not U+200B or U+FEFF.
  EXPECT_EQ(s.find_all("a\xC2\xA0" "b\xE3\x80\x80" "c\xC2\x85" "d\xE2\x80\xA8" "e").size(), 4u);
  EXPECT_TRUE(s.find_all("a\xE2\x80\x8B" "b\xEF\xBB\xBF" "c").empty());
  Regex w(R"(\w+)", "test");
  // Oniguruma \w takes combining marks (U+0301) and connector punctuation, not other numbers (①).
  const auto m = w.find_all("e\xCC\x81_x\xE2\x80\xBF" "y \xE2\x91\xA0");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (moescope::tok::Span{0, 9}));
  Regex ci(R"((?i:'s|'ll))", "test");
  EXPECT_EQ(ci.find_all("IT'S WE'LL it's").size(), 3u);
  EXPECT_THROW(Regex("(unclosed", "file.json: pre_tokenizer"), moescope::Error);
}

TEST(TokenizerUnicode, NormalizersUseUnicodeData) {
  using moescope::tok::make_normalizer;
  auto run = [](const json& j, std::string s) {
    make_normalizer(j, "test")->normalize(s);
    return s;
  };
  EXPECT_EQ(run({{"type", "NFC"}}, "e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(run({{"type", "NFD"}}, "\xC3\xA9"), "e\xCC\x81");
  EXPECT_EQ(run({{"type", "NFKC"}}, "\xEF\xAC\x81"), "fi");         // U+FB01 ligature
  EXPECT_EQ(run({{"type", "NFKD"}}, "\xE2\x91\xA0"), "1");          // circled one
  EXPECT_EQ(run({{"type", "Lowercase"}}, "\xC4\xB0STANBUL \xCE\xA3"), "i\xCC\x87stanbul \xCF\x83");  // SpecialCasing İ
  EXPECT_EQ(run({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, "\xE3\x80\x80 x \xC2\xA0"), "x");
  EXPECT_EQ(run({{"type", "Prepend"}, {"prepend", "_"}}, ""), "");
  EXPECT_EQ(run({{"type", "Replace"}, {"pattern", {{"Regex", " +"}}}, {"content", "-"}}, "a  b c"), "a-b-c");
}

// --- errors -------------------------------------------------------------------------------------

std::string write_tokenizer(const std::string& tag, const std::string& content) {
  const std::string dir = moescope::test::temp_dir("tok-" + tag);
  std::ofstream(dir + "/tokenizer.json") << content;
  return dir + "/tokenizer.json";
}

std::string load_error(const std::string& path) {
  try {
    Tokenizer::load(path);
  } catch (const moescope::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TokenizerErrors, UnsupportedModelsAndMalformedFilesNameFileAndProblem) {
  const json minimal = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}}};
  // The minimal file itself loads and merges.
  auto ok = Tokenizer::load(write_tokenizer("ok", minimal.dump()));
  EXPECT_EQ(ok->encode("abab", false), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(ok->decode({2, 0}), "ab a");  // no decoder: tokens joined with spaces

  struct Case {
    std::string tag, content, expect;
  };
  std::vector<Case> cases;
  for (const char* type : {"WordPiece", "Unigram", "WordLevel"}) {
    json j = {{"model", {{"type", type}, {"vocab", json::object()}}}};
    cases.push_back({type, j.dump(), std::string("model type '") + type + "' is not supported"});
  }
  cases.push_back({"json", "{\"model\": {", "invalid JSON"});
  cases.push_back({"nomodel", "{\"version\": \"1.0\"}", "missing field 'model'"});
  json j = minimal;
  j["model"]["merges"] = {"a c"};
  cases.push_back({"mergevocab", j.dump(), "token 'c' is not in the vocab"});
  j = minimal;
  j["model"]["merges"] = {"a b c"};
  cases.push_back({"mergeform", j.dump(), "merges[0]"});
  j = minimal;
  j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "AAAA"}};
  cases.push_back({"norm", j.dump(), "normalizer type 'Precompiled' is not supported"});
  j = minimal;
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(("}}}, {"behavior", "Isolated"}, {"invert", false}};
  cases.push_back({"regex", j.dump(), "does not compile"});
  j = minimal;
  j["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}};
  cases.push_back({"dec", j.dump(), "decoder type 'WordPiece' is not supported"});
  j = minimal;
  j["model"]["vocab"]["x"] = "seven";
  cases.push_back({"vocab", j.dump(), "id of token 'x'"});
  j = minimal;
  j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}, {"special_tokens", json::object()}};
  cases.push_back({"template", j.dump(), "special token '<s>'"});
  for (const auto& c : cases) {
    const std::string path = write_tokenizer(c.tag, c.content);
    const std::string msg = load_error(path);
    EXPECT_NE(msg.find(path), std::string::npos) << c.tag << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.tag << ": " << msg;
  }
  EXPECT_NE(load_error("/nonexistent/tokenizer.json").find("/nonexistent/tokenizer.json: cannot open"), std::string::npos);
  const std::string empty_dir = moescope::test::temp_dir("tok-empty");
  EXPECT_NE(load_error(empty_dir).find("no tokenizer.json"), std::string::npos);
}

}  // namespace
