// CRC-32C against published check values, sealed files, and work isolated in a child process.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <string>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/checksum.hpp"
#include "core/error.hpp"
#include "core/isolate.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using climseg::test::TempDir;

TEST(Crc32c, PublishedCheckValues) {
  // The CRC catalogue's check value, and RFC 3720 (iSCSI) appendix B.4's 32-byte examples.
  const std::string digits = "123456789";
  EXPECT_EQ(climseg::crc32c(digits.data(), digits.size()), 0xE3069283u);
  std::vector<unsigned char> zeros(32, 0), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[static_cast<size_t>(i)] = static_cast<unsigned char>(i);
    dec[static_cast<size_t>(i)] = static_cast<unsigned char>(31 - i);
  }
  EXPECT_EQ(climseg::crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(climseg::crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(climseg::crc32c(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(climseg::crc32c(dec.data(), 32), 0x113FDB5Cu);
  EXPECT_EQ(climseg::crc32c(nullptr, 0), 0u);
}

TEST(Crc32c, ContinuesAcrossPiecesOfAnyLength) {
  std::vector<unsigned char> bytes(1000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 131 + 7);
  const uint32_t whole = climseg::crc32c(bytes.data(), bytes.size());
  for (size_t cut : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    const uint32_t first = climseg::crc32c(bytes.data(), cut);
    EXPECT_EQ(climseg::crc32c(bytes.data() + cut, bytes.size() - cut, first), whole) << cut;
  }
}

namespace {
void write_bytes(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
std::string read_bytes(const fs::path& p) { return climseg::read_file(p); }
std::string error_of(const fs::path& p) {
  try {
    (void)climseg::check_seal(p);
  } catch (const climseg::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Seal, RecordsLengthAndCrcAndCatchesEveryKindOfDamage) {
  TempDir dir;
  const fs::path f = dir / "x.h5";
  std::string body(3000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i % 251);
  write_bytes(f, std::string(climseg::kSealBytes, '\0') + body);
  EXPECT_EQ(climseg::check_seal(f), climseg::SealState::absent);
  climseg::seal_file(f);
  EXPECT_EQ(climseg::check_seal(f), climseg::SealState::intact);
  const std::string sealed = read_bytes(f);
  EXPECT_EQ(sealed.substr(climseg::kSealBytes), body);  // the data after the block is untouched
  char expected[64];
  std::snprintf(expected, sizeof expected, "crc32c %08x\n", climseg::crc32c(body.data(), body.size()));
  EXPECT_NE(sealed.find("CLIMSEG-SEALED-HDF5 1\nbytes 3000\n" + std::string(expected)), std::string::npos);

  std::string flipped = sealed;
  flipped[climseg::kSealBytes + 1234] ^= 0x10;
  write_bytes(f, flipped);
  EXPECT_NE(error_of(f).find("x.h5: damaged: CRC-32C"), std::string::npos) << error_of(f);

  write_bytes(f, sealed.substr(0, sealed.size() - 1));
  EXPECT_NE(error_of(f).find("x.h5: truncated or damaged: 2999 bytes after the seal where 3000 were written"),
            std::string::npos)
      << error_of(f);

  write_bytes(f, sealed + "x");
  EXPECT_NE(error_of(f).find("3001 bytes after the seal"), std::string::npos) << error_of(f);

  write_bytes(f, sealed.substr(0, 100));  // cut inside the seal itself
  EXPECT_NE(error_of(f).find("x.h5: "), std::string::npos);
  EXPECT_THROW((void)climseg::check_seal(f), climseg::Error);
}

TEST(Isolate, ReportsSuccessErrorsCrashesAndHangs) {
  auto ok = climseg::run_isolated([] {}, 10);
  EXPECT_TRUE(ok.ok) << ok.message;

  auto threw = climseg::run_isolated([] { climseg::fail("f.h5: no such variable 'Q'"); }, 10);
  EXPECT_FALSE(threw.ok);
  EXPECT_EQ(threw.message, "f.h5: no such variable 'Q'");

  auto crashed = climseg::run_isolated([] { std::raise(SIGSEGV); }, 10);
  EXPECT_FALSE(crashed.ok);
  EXPECT_NE(crashed.message.find("crashed with signal 11"), std::string::npos) << crashed.message;

  auto hung = climseg::run_isolated([] { ::pause(); }, 0.3);
  EXPECT_FALSE(hung.ok);
  EXPECT_NE(hung.message.find("did not finish within 0.3 s"), std::string::npos) << hung.message;

  // What the child changes stays in the child.
  int value = 1;
  EXPECT_TRUE(climseg::run_isolated([&] { value = 2; }, 10).ok);
  EXPECT_EQ(value, 1);
}
