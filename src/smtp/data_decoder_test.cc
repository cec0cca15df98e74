#include "smtp/data_decoder.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sesame::smtp {
namespace {

using Problem = DataDecoder::Problem;

struct Outcome {
  bool done;
  size_t consumed;
  Problem problem;
  std::string content;
};

// Feeds `in` in fragments of `step` bytes, stopping at the end of data.
Outcome Decode(std::string_view in, size_t step, uint64_t max = 1 << 20,
               DataDecoder::Mode mode = DataDecoder::Mode::kDotStuffed) {
  DataDecoder d(mode, max);
  Outcome o{false, 0, Problem::kNone, ""};
  while (o.consumed < in.size() && !d.done()) {
    std::string_view frag = in.substr(o.consumed, step);
    size_t n = d.Feed(frag, &o.content);
    o.consumed += n;
    if (n < frag.size()) {
      EXPECT_TRUE(d.done());
    }
  }
  o.done = d.done();
  o.problem = d.problem();
  return o;
}

struct Case {
  std::string in;
  bool done;
  size_t consumed;  // SIZE_MAX: all
  Problem problem;
  std::string content;  // checked only without a problem
};

TEST(DataDecoder, TableInEveryFragmentSize) {
  const std::string kLong(999, 'x');
  const Case cases[] = {
      {".\r\n", true, 3, Problem::kNone, ""},
      {"Subject: a\r\n\r\nbody\r\n.\r\n", true, SIZE_MAX, Problem::kNone,
       "Subject: a\r\n\r\nbody\r\n"},
      {"a\r\n.\r\nMAIL FROM:<x@y>\r\n", true, 6, Problem::kNone, "a\r\n"},
      {"..\r\n.\r\n", true, SIZE_MAX, Problem::kNone, ".\r\n"},
      {"..hidden\r\n.\r\n", true, SIZE_MAX, Problem::kNone, ".hidden\r\n"},
      {"a.\r\n.\r\n", true, SIZE_MAX, Problem::kNone, "a.\r\n"},
      {"a\r\n", false, SIZE_MAX, Problem::kNone, "a\r\n"},
      {"a\n.\n", false, SIZE_MAX, Problem::kBareLf, ""},
      {"a\r.\r", false, SIZE_MAX, Problem::kBareCr, ""},
      {"a\nb\r\n.\r\n", true, SIZE_MAX, Problem::kBareLf, ""},
      {"a\rb\r\n.\r\n", true, SIZE_MAX, Problem::kBareCr, ""},
      {std::string("a\0b\r\n.\r\n", 8), true, SIZE_MAX, Problem::kNul, ""},
      {".\rx\r\n.\r\n", true, SIZE_MAX, Problem::kBareCr, ""},
      {kLong + "\r\n.\r\n", true, SIZE_MAX, Problem::kLineTooLong, ""},
      {kLong.substr(1) + "\r\n.\r\n", true, SIZE_MAX, Problem::kNone,
       kLong.substr(1) + "\r\n"},
      {"\xc3\xa9t\xc3\xa9\r\n.\r\n", true, SIZE_MAX, Problem::kNone,
       "\xc3\xa9t\xc3\xa9\r\n"},
  };
  for (const auto& c : cases) {
    size_t want_consumed = c.consumed == SIZE_MAX ? c.in.size() : c.consumed;
    for (size_t step = 1; step <= c.in.size(); ++step) {
      Outcome o = Decode(c.in, step);
      SCOPED_TRACE(::testing::Message()
                   << "input=" << ::testing::PrintToString(c.in)
                   << " step=" << step);
      EXPECT_EQ(o.done, c.done);
      EXPECT_EQ(o.consumed, want_consumed);
      EXPECT_EQ(o.problem, c.problem);
      if (c.problem == Problem::kNone) {
        EXPECT_EQ(o.content, c.content);
      }
    }
  }
}

TEST(DataDecoder, SizeLimit) {
  std::string body(100, 'a');
  Outcome o = Decode(body + "\r\n.\r\n", 7, 50);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.problem, Problem::kTooBig);
  o = Decode(body + "\r\n.\r\n", 7, 102);
  EXPECT_EQ(o.problem, Problem::kNone);
}

TEST(DataDecoder, BinaryChunkModeKeepsDotsAndFlagsBareLf) {
  Outcome o = Decode(".\r\n..\r\n", 2, 100, DataDecoder::Mode::kBinaryChunk);
  EXPECT_FALSE(o.done);
  EXPECT_EQ(o.content, ".\r\n..\r\n");
  o = Decode("a\nb", 1, 100, DataDecoder::Mode::kBinaryChunk);
  EXPECT_EQ(o.problem, Problem::kBareLf);
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out +=
        static_cast<char>(std::strtol(hex.substr(i, 2).c_str(), nullptr, 16));
  }
  return out;
}

// Every fake end-of-data sequence from the corpus: embedded in a message,
// followed by a smuggled transaction, it must neither end DATA nor be kept
// as a clean message.
TEST(DataDecoder, SmugglingCorpus) {
  const char* src = std::getenv("SESAME_SOURCE_DIR");
  std::string path = std::string(src ? src : ".") +
                     "/../shared/corpora/smtp/smuggling_eod_sequences.tsv";
  std::ifstream f(path);
  ASSERT_TRUE(f.good()) << path;
  std::string line;
  std::getline(f, line);  // header
  int checked = 0;
  while (std::getline(f, line)) {
    std::istringstream fields(line);
    std::string json, hex, used_for;
    std::getline(fields, json, '\t');
    std::getline(fields, hex, '\t');
    std::getline(fields, used_for, '\t');
    std::string seq = Unhex(hex);
    std::string smuggled = "Subject: hi\r\n\r\nbody" + seq +
                           "MAIL FROM:<evil@example.com>\r\nRCPT "
                           "TO:<victim@example.com>\r\nDATA\r\n"
                           "smuggled\r\n";
    std::string real_end = "\r\n.\r\n";
    for (size_t step :
         {size_t(1), size_t(2), size_t(3), size_t(7), smuggled.size()}) {
      Outcome o = Decode(smuggled + real_end, step);
      SCOPED_TRACE(json + " step " + std::to_string(step));
      if (used_for == "control") {
        EXPECT_TRUE(o.done);
        EXPECT_LT(o.consumed,
                  smuggled.size());  // ended at the genuine sequence
      } else {
        EXPECT_TRUE(o.done);
        EXPECT_EQ(o.consumed, smuggled.size() + real_end.size())
            << "ended early";
        EXPECT_NE(o.problem, Problem::kNone)
            << "accepted a fake end-of-data as data";
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace sesame::smtp
