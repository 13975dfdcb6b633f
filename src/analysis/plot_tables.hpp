// Embedded data for pictures: the viridis colour map and two anti-aliased bitmap fonts.
#pragma once

namespace climseg::plot::tables {

// A fixed-width font: 95 glyphs (ASCII 32..126), then kExtraCount more (the code points of
// kExtraCodes: °, superscripts, ×, −, ≥, ...), each of width x height alpha values (0..255), row-major.
struct Font {
  int width, height, ascent, advance;
  const unsigned char* alpha;  // (95 + kExtraCount, height, width)
};

extern const char32_t kExtraCodes[];
extern const int kExtraCount;

extern const unsigned char kViridis[256][3];
extern const Font kSmallFont;  // 12 px DejaVu Sans Mono
extern const Font kLargeFont;  // 18 px

}  // namespace climseg::plot::tables
