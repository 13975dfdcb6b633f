// Progress in plain-line mode (stderr is not a terminal under ctest): counts and ETA are reported.
#include <gtest/gtest.h>

#include "core/log.hpp"
#include "core/progress.hpp"

TEST(Progress, PlainLinesWhenNotATerminal) {
  climseg::Progress::set_plain_interval(0.0);
  testing::internal::CaptureStderr();
  {
    climseg::Progress p("steps", 4);
    for (int i = 0; i < 4; ++i) p.advance(1, "loss 0.5");
  }
  std::string err = testing::internal::GetCapturedStderr();
  climseg::Progress::set_plain_interval(10.0);
  EXPECT_NE(err.find("steps: 1/4"), std::string::npos) << err;
  EXPECT_NE(err.find("steps: 4/4"), std::string::npos) << err;
  EXPECT_NE(err.find("loss 0.5"), std::string::npos) << err;
  EXPECT_EQ(err.find('\r'), std::string::npos) << "no carriage returns in plain mode";
}

TEST(Progress, QuietLoggingSilencesIt) {
  climseg::log::set_level(climseg::log::Level::warn);
  testing::internal::CaptureStderr();
  {
    climseg::Progress p("steps", 2);
    p.advance(2);
  }
  std::string err = testing::internal::GetCapturedStderr();
  climseg::log::set_level(climseg::log::Level::info);
  EXPECT_TRUE(err.empty()) << err;
}
