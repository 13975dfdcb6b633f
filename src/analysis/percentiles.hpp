// Exact percentiles of a set of values, numpy's default method (linear interpolation between order
// statistics), missing values (NaN) left out. Used for the per-cell percentile maps of
// `climseg stats --percentile-map`; the archive-wide percentiles of readers/stats.hpp come from
// histograms instead (one pass, any archive size).
#pragma once

#include <span>
#include <vector>

namespace climseg::analysis {

// The percentiles `pct` (each in [0, 100]) of `values`, NaN left out: for n valid values sorted
// ascending, p is read at position p/100 * (n - 1), interpolated linearly between its neighbours
// (numpy.nanpercentile(values, p), method "linear"). Every result is NaN when no value is valid.
// `values` is reordered (sorted, NaN dropped) in place: it is the caller's scratch.
void linear_percentiles(std::vector<float>& values, std::span<const double> pct, std::span<float> out);

}  // namespace climseg::analysis
