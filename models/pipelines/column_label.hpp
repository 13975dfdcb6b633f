// label_archive on unstructured columns (CAM-SE ncol, SCRIP, UGRID): cyclone candidates on the
// columns' graph (DetectNodes semantics), the lat-lon tracking, cyclone masks around the tracks and
// rivers as components over neighbours, LABELS written on the native columns. The same configuration,
// rerun keys, tables and summary as on lat-lon (label.hpp); options it cannot honour are refused.
// Internal to the pipelines library: label_archive calls it when its input has columns.
#pragma once

#include <string>

#include "core/mpi.hpp"
#include "models/pipelines/label.hpp"

namespace climseg::pipelines {

// Pass 1 splits steps over the ranks, pass 2 the input files (one output each); the grid is built on
// the root and broadcast. UsageError naming an option the column path does not support (--detect
// waves, --with-data, threshold fields, 3-D roles).
LabelReport label_column_archive(const LabelConfig& cfg, const Comm& comm, bool show_progress);

// A threshold given as "NUMBER" or "pPCT" (the PCT-th percentile of `channel` in a stats file);
// UsageError naming `option` (defined in label.cpp).
double label_threshold_value(const std::string& text, const std::string& stats_path, const std::string& channel,
                             const char* option);

}  // namespace climseg::pipelines
