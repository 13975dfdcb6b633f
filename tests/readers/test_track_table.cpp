// io::parse_track_table: both tables climseg writes, columns by name in any order, and one clear
// line (file and line number) for a bad table.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "readers/track_table.hpp"

using climseg::io::parse_track_table;

TEST(TrackTable, ReadsTcTracksByHeaderName) {
  // Columns of label's tc_tracks.csv, with extra ones between; ids, steps and positions by hand.
  const auto rows = parse_track_table(
      "track_id,time,step,lat,lon,psl_min\n"
      "1,2000-01-01T00:00:00,0,-12.5,140.25,98000\n"
      "\n"
      "2,2000-01-01T06:00:00,3,20,-75.5,99100\n",
      "t.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, 1);
  EXPECT_EQ(rows[0].step, 0);
  EXPECT_EQ(rows[0].lat, -12.5);
  EXPECT_EQ(rows[0].lon, 140.25);
  EXPECT_EQ(rows[0].cls, 0);
  EXPECT_EQ(rows[1].id, 2);
  EXPECT_EQ(rows[1].step, 3);
  EXPECT_EQ(rows[1].lon, -75.5);
}

TEST(TrackTable, ReadsEventPointsWithTheirClass) {
  // event_points.csv: the class column is read; an empty trailing cell (no peak) is fine.
  const auto rows = parse_track_table(
      "event_id,class,class_name,step,time,lat,lon,peak\n"
      "7,2,atmospheric_river,4,2000-01-02T00:00:00,35.5,200,\n",
      "p.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, 7);
  EXPECT_EQ(rows[0].cls, 2);
  EXPECT_EQ(rows[0].step, 4);
  EXPECT_EQ(rows[0].lat, 35.5);
  EXPECT_EQ(rows[0].lon, 200.0);
}

TEST(TrackTable, BadTablesNameFileAndLine) {
  auto message = [](const std::string& text) {
    try {
      parse_track_table(text, "x.csv");
    } catch (const climseg::Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(message(""), "x.csv: empty track table");
  EXPECT_EQ(message("track_id,step,lat\n"),
            "x.csv: no column 'lon' in the header (is it a tc_tracks.csv from climseg label or an event_points.csv "
            "from climseg events?)");
  EXPECT_EQ(message("track_id,step,lat,lon\n1,0,5\n"), "x.csv:2: expected 4 columns, got 3");
  EXPECT_EQ(message("track_id,step,lat,lon\n1,0,5,6\n1,x,5,6\n"), "x.csv:3: not a number in '1,x,5,6'");
}
