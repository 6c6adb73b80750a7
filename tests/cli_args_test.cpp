#include <gtest/gtest.h>

#include "dualclip/cli/args.h"
#include "dualclip/core/error.h"

using dualclip::cli::ArgParser;

namespace {
ArgParser make_parser() {
  ArgParser parser("train", "Train.");
  parser.add_flag("do_train", "Run training.");
  parser.add_option("learning_rate", "5e-05", "Peak learning rate.");
  parser.add_option("output_dir", "", "Where to write.");
  parser.add_list("images", "Image files.", "FILE");
  parser.add_ignored("dataset_name", true, "dualclip reads COCO from --data_dir.");
  return parser;
}
}  // namespace

TEST(ArgParser, KeyValueAndEqualsForms) {
  ArgParser parser = make_parser();
  ASSERT_TRUE(parser.parse({"--learning_rate", "1e-4", "--output_dir=out"}));
  EXPECT_DOUBLE_EQ(parser.get_double("learning_rate"), 1e-4);
  EXPECT_EQ(parser.get("output_dir"), "out");
}

TEST(ArgParser, DefaultsApplyWhenAbsent) {
  ArgParser parser = make_parser();
  ASSERT_TRUE(parser.parse({}));
  EXPECT_DOUBLE_EQ(parser.get_double("learning_rate"), 5e-5);
  EXPECT_FALSE(parser.given("learning_rate"));
  EXPECT_FALSE(parser.flag("do_train"));
  EXPECT_THROW(parser.get("output_dir"), dualclip::Error);
}

TEST(ArgParser, FlagTakesOptionalBoolean) {
  ArgParser parser = make_parser();
  ASSERT_TRUE(parser.parse({"--do_train", "false", "--images", "a.jpg", "b.jpg"}));
  EXPECT_FALSE(parser.flag("do_train"));
  EXPECT_EQ(parser.get_list("images"), (std::vector<std::string>{"a.jpg", "b.jpg"}));
  ArgParser other = make_parser();
  ASSERT_TRUE(other.parse({"--do_train"}));
  EXPECT_TRUE(other.flag("do_train"));
}

TEST(ArgParser, UnknownArgumentNamesIt) {
  ArgParser parser = make_parser();
  try {
    parser.parse({"--learning_rat", "1"});
    FAIL() << "expected an error";
  } catch (const dualclip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--learning_rat"), std::string::npos);
  }
}

TEST(ArgParser, MalformedNumberNamesOption) {
  ArgParser parser = make_parser();
  ASSERT_TRUE(parser.parse({"--learning_rate", "fast"}));
  try {
    parser.get_double("learning_rate");
    FAIL() << "expected an error";
  } catch (const dualclip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--learning_rate"), std::string::npos);
  }
}

TEST(ArgParser, MissingValueIsError) {
  ArgParser parser = make_parser();
  EXPECT_THROW(parser.parse({"--output_dir"}), dualclip::Error);
  ArgParser list_parser = make_parser();
  EXPECT_THROW(list_parser.parse({"--images", "--do_train"}), dualclip::Error);
}

TEST(ArgParser, IgnoredOptionLeavesNote) {
  ArgParser parser = make_parser();
  ASSERT_TRUE(parser.parse({"--dataset_name", "ydshieh/coco_dataset_script", "--do_train"}));
  ASSERT_EQ(parser.ignored_notes().size(), 1u);
  EXPECT_NE(parser.ignored_notes()[0].find("--dataset_name"), std::string::npos);
  EXPECT_TRUE(parser.flag("do_train"));
}
