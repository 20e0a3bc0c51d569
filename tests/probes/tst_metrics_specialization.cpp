// Specialisation: token-class and label matrices, nPMI and lift, top tokens per expert.
#include <gtest/gtest.h>

#include <cmath>

#include "probes/metrics/specialization.h"
#include "probes/metrics/token_class.h"
#include "tests/probes/synthetic_run.h"

using namespace moescope;
using namespace moescope::metrics;

TEST(Specialization, NpmiByHand) {
  // 2 categories x 2 experts, counts [[3, 1], [0, 4]], total 8.
  const auto v = npmi({3, 1, 0, 4}, 2, 2);
  auto direct = [](double pce, double pc, double pe) { return std::log(pce / (pc * pe)) / -std::log(pce); };
  EXPECT_NEAR(v[0], direct(3.0 / 8, 4.0 / 8, 3.0 / 8), 1e-12);
  EXPECT_NEAR(v[1], direct(1.0 / 8, 4.0 / 8, 5.0 / 8), 1e-12);
  EXPECT_DOUBLE_EQ(v[2], -1.0);  // never together
  EXPECT_NEAR(v[3], direct(4.0 / 8, 4.0 / 8, 5.0 / 8), 1e-12);
  EXPECT_GT(v[0], 0.0);  // category 0 is over-represented on expert 0
  // empty row -> 0; a single cell with everything -> 1
  const auto e = npmi({0, 0, 2, 0}, 2, 2);
  EXPECT_EQ(e[0], 0.0);
  EXPECT_EQ(e[2], 1.0);
}

TEST(Specialization, TokenClassMatrix) {
  // E = 3, k = 1: "hello" -> 0, "42" -> 1, "," -> 1, " world" -> 0, "{" -> 2
  RunData r = test::make_run(3, 1, {{{0}}, {{1}}, {{1}}, {{0}}, {{2}}}, {1, 2, 3, 4, 5},
                             {"hello", "42", ",", " world", "{"});
  const CategoryMatrix m = token_class_matrix(r, 0);
  ASSERT_EQ(int(m.categories.size()), kNumTokenClasses);
  const int word = int(TokenClass::Word), num = int(TokenClass::Number), punct = int(TokenClass::Punctuation),
            code = int(TokenClass::CodeSymbol);
  EXPECT_EQ(m.categories[size_t(word)], "word");
  EXPECT_EQ(m.count(word, 0), 2);
  EXPECT_EQ(m.count(num, 1), 1);
  EXPECT_EQ(m.count(punct, 1), 1);
  EXPECT_EQ(m.count(code, 2), 1);
  int64_t total = 0;
  for (int64_t c : m.counts) total += c;
  EXPECT_EQ(total, 5);
  // lift of word on expert 0: p(e=0 | word) = 1, uniform 1/3 -> 3
  EXPECT_DOUBLE_EQ(m.lift[size_t(word) * 3 + 0], 3.0);
  // special ids from the tokenizer override the text
  const CategoryMatrix ms = token_class_matrix(r, 0, {}, [](int64_t id) { return id == 1; });
  EXPECT_EQ(ms.count(int(TokenClass::Special), 0), 1);
  EXPECT_EQ(ms.count(word, 0), 1);
}

TEST(Specialization, LabelMatrixAcrossRuns) {
  RunData a = test::make_run(2, 2, {{{0, 1}}, {{0}}});
  a.label = "python";
  RunData b = test::make_run(2, 2, {{{1}}, {{1, 0}}, {{1}}});
  b.label = "prose";
  b.is_prompt = {1, 0, 0};
  RunData c = test::make_run(2, 2, {{{0}}});
  c.label = "python";
  const CategoryMatrix m = label_matrix({&a, &b, &c}, 0);
  ASSERT_EQ(m.categories, (std::vector<std::string>{"python", "prose"}));
  EXPECT_EQ(m.count(0, 0), 3);  // a: 0,1,0  c: 0
  EXPECT_EQ(m.count(0, 1), 1);
  EXPECT_EQ(m.count(1, 0), 1);
  EXPECT_EQ(m.count(1, 1), 3);
  const CategoryMatrix mp = label_matrix({&a, &b, &c}, 0, {}, /*prompt_only=*/true);
  EXPECT_EQ(mp.count(1, 1), 1);
  EXPECT_EQ(mp.count(1, 0), 0);
}

TEST(Specialization, TopTokens) {
  // expert 0 gets id 5 three times and id 6 once; expert 1 gets id 6 twice.
  RunData r = test::make_run(2, 1, {{{0}}, {{0}}, {{1}}, {{0}}, {{0}}, {{1}}}, {5, 5, 6, 6, 5, 6},
                             {"a", "a", "b", "b", "a", "b"});
  const auto top = top_tokens_per_expert(r, 0, 1);
  ASSERT_EQ(top.size(), 2u);
  ASSERT_EQ(top[0].size(), 1u);
  EXPECT_EQ(top[0][0].id, 5);
  EXPECT_EQ(top[0][0].count, 3);
  EXPECT_EQ(top[0][0].text, "a");
  EXPECT_EQ(top[1][0].id, 6);
  EXPECT_EQ(top[1][0].count, 2);
  EXPECT_EQ(top_tokens_per_expert(r, 0, 5)[0].size(), 2u);
}

TEST(TokenClass, Rule) {
  struct Case {
    const char* text;
    TokenClass want;
  };
  const Case cases[] = {
      {"hello", TokenClass::Word},        {" The", TokenClass::Word},        {"don't", TokenClass::Word},
      {"foo_bar", TokenClass::Word},      {"x2", TokenClass::Word},          {"\xc3\xa9t\xc3\xa9", TokenClass::Word},
      {"hello,", TokenClass::Word},       {"42", TokenClass::Number},        {" 3.14", TokenClass::Number},
      {"1,000", TokenClass::Number},      {"3)", TokenClass::Number},        {",", TokenClass::Punctuation},
      {" .", TokenClass::Punctuation},    {"?!", TokenClass::Punctuation},   {"\xe2\x80\x94", TokenClass::Punctuation},
      {" ", TokenClass::Whitespace},      {"\n\n", TokenClass::Whitespace},  {"\t", TokenClass::Whitespace},
      {"{", TokenClass::CodeSymbol},      {"==", TokenClass::CodeSymbol},    {"->", TokenClass::CodeSymbol},
      {"_", TokenClass::CodeSymbol},      {"x=", TokenClass::CodeSymbol},    {"<s>", TokenClass::Special},
      {"</s>", TokenClass::Special},      {"<|endoftext|>", TokenClass::Special}, {"", TokenClass::Other},
      {"\xe2\x80", TokenClass::Other},  // a UTF-8 fragment
  };
  for (const Case& c : cases) EXPECT_EQ(classify_token(c.text), c.want) << "'" << c.text << "'";
  EXPECT_EQ(classify_token("hello", true), TokenClass::Special);
  EXPECT_STREQ(token_class_name(TokenClass::CodeSymbol), "code-symbol");
}
