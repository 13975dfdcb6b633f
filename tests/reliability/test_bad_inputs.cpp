// The table of bad inputs (docs/reliability.md): every case runs the climseg executable and checks
// the exit code, that stderr holds exactly one "climseg: error:" line (or, for the cases that only
// warn, one warning and exit 0), what that line says, and that no output was left behind.
// CLIMSEG_PRINT_TABLE=1 prints the table as markdown (for the docs).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "bad_input_files.hpp"
#include "models/nets/network.hpp"
#include "models/training/model_io.hpp"
#include "nn/checkpoint.hpp"
#include "test_support.hpp"

namespace climseg::test {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string name;     // test name
  std::string issue;    // where the case comes from
  std::string what;     // the bad input, in words
  std::string args;     // climseg arguments; {D} is the fixture's directory
  int exit_code = 1;    // 0 for the cases that warn and go on
  std::string message;  // regex the error (or warning) line must match
  std::string env;      // prefix such as "CLIMSEG_MEMORY_BUDGET=64M"
  std::string no_file;  // a path (under {D}) that must not exist afterwards
  std::string wrap;     // a shell line around the command, {CMD} standing for it
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

const fs::path& fixture_dir();

// Files shared by all cases (made once).
void make_fixtures(const fs::path& d) {
  fs::create_directories(d / "ok");
  ncgen(d / "ok/a.nc", cam_cdl());
  ncgen(d / "other_grid.nc", cam_cdl("-20, 0, 20", "5, 6"));
  fs::create_directories(d / "grids");
  fs::copy_file(d / "ok/a.nc", d / "grids/a.nc");
  fs::copy_file(d / "other_grid.nc", d / "grids/b.nc");
  fs::create_directories(d / "overlap");
  fs::copy_file(d / "ok/a.nc", d / "overlap/a.nc");
  ncgen(d / "overlap/b.nc", cam_cdl("-30, 0, 30", "1, 2"));
  ncgen(d / "backwards.nc", cam_cdl("-30, 0, 30", "1, 0"));
  {
    // Step 1 entirely fill values, step 2 valid.
    std::string cdl = cam_cdl("-30, 0, 30", "0, 1");
    const std::string first = "TMQ = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,";
    cdl.replace(cdl.find(first), first.size(),
                "TMQ = -999, -999, -999, -999, -999, -999, -999, -999, -999, -999, -999, -999,");
    ncgen(d / "allfill.nc", cdl);
  }
  ncgen(d / "nan.nc", cam_cdl("-30, 0, 30", "0", "1, NaNf, 3, Infinityf, 5, -999, 7, 8, 9, 10, 11, -Infinityf"));
  ncgen(d / "unstructured.nc",
        "netcdf u {\ndimensions:\n ncol = 5 ; time = 1 ;\nvariables:\n double time(time) ; time:units = \"days since "
        "2000-01-01\" ;\n double lat(ncol) ; lat:units = \"degrees_north\" ;\n double lon(ncol) ; lon:units = "
        "\"degrees_east\" ;\n float TMQ(time, ncol) ;\ndata:\n time = 0 ; lat = -60, -30, 0, 30, 60 ;\n lon = 0, 70, "
        "140, "
        "210, 280 ;\n TMQ = 1, 2, 3, 4, 5 ;\n}\n");
  ncgen(
      d / "curvilinear.nc",
      "netcdf c {\ndimensions:\n y = 2 ; x = 3 ; time = 1 ;\nvariables:\n double time(time) ; time:units = \"days "
      "since 2000-01-01\" ;\n double lat(y, x) ; lat:units = \"degrees_north\" ;\n double lon(y, x) ; lon:units = "
      "\"degrees_east\" ;\n float TMQ(time, y, x) ;\ndata:\n time = 0 ; lat = 10, 10.5, 11, 20, 20.5, 21 ;\n lon = 0, "
      "10, 20, 1, 11, 21 ;\n TMQ = 1, 2, 3, 4, 5, 6 ;\n}\n");
  ncgen(
      d / "zero_lat.nc",
      "netcdf z {\ndimensions:\n lat = 0 ; lon = 4 ;\nvariables:\n double lat(lat) ; lat:units = \"degrees_north\" ;\n"
      " double lon(lon) ; lon:units = \"degrees_east\" ;\n float TMQ(lat, lon) ;\ndata:\n lon = 0, 90, 180, 270 ;\n}\n",
      "nc4");
  ncgen(
      d / "char_field.nc",
      "netcdf c {\ndimensions:\n lat = 3 ; lon = 4 ;\nvariables:\n double lat(lat) ; lat:units = \"degrees_north\" ;\n"
      " double lon(lon) ; lon:units = \"degrees_east\" ;\n char TMQ(lat, lon) ;\ndata:\n lat = -30, 0, 30 ;\n"
      " lon = 0, 90, 180, 270 ;\n TMQ = \"abcd\", \"efgh\", \"ijkl\" ;\n}\n");
  ncgen(
      d / "string_field.nc",
      "netcdf s {\ndimensions:\n lat = 3 ; lon = 4 ;\nvariables:\n double lat(lat) ; lat:units = \"degrees_north\" ;\n"
      " double lon(lon) ; lon:units = \"degrees_east\" ;\n string TMQ(lat, lon) ;\ndata:\n lat = -30, 0, 30 ;\n"
      " lon = 0, 90, 180, 270 ;\n}\n",
      "nc4");
  huge_grid_file(d / "huge_grid.nc", 1000000, 1000000);
  fs::create_directories(d / "edges");
  const fs::path corpus = fs::path(CLIMSEG_FUZZ_CORPUS) / "archive_open";
  for (const char* f : {"edge_huge_dim.nc", "edge_negative_dim.nc"}) fs::copy_file(corpus / f, d / "edges" / f);
  { std::ofstream(d / "text.nc") << "lat,lon,value\n1,2,3\n"; }
  {
    const std::string bytes = slurp(d / "ok/a.nc");
    std::ofstream(d / "truncated_header.nc", std::ios::binary) << bytes.substr(0, 200);
    std::ofstream(d / "truncated_data.nc", std::ios::binary) << bytes.substr(0, bytes.size() - 40);
  }
  // A netCDF-4 file cut in half.
  ncgen(d / "nc4.nc", cam_cdl(), "nc4");
  {
    const std::string bytes = slurp(d / "nc4.nc");
    std::ofstream(d / "truncated_nc4.nc", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  // A model expecting TMQ,U850 (a tiny U-Net) and a copy of it cut short.
  {
    nets::NetConfig c;
    c.type = "unet";
    c.params = {{"depth", 1}, {"width", 2}};
    c.channels = {"TMQ", "U850"};
    auto net = nets::make_network(c);
    nn::Parameters params(*net, 1);
    training::Normalizer norm;
    norm.channels = c.channels;
    norm.shift = {0, 0};
    norm.scale = {1, 1};
    nn::CheckpointInfo info;
    info.attributes = training::model_attributes(c, norm);
    nn::save_checkpoint(d / "model.h5", params, nullptr, info);
    const std::string bytes = slurp(d / "model.h5");
    std::ofstream(d / "truncated_model.h5", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  // A labelled archive for training (2 steps of 16x32).
  {
    const auto r =
        run_climseg("synth -q --out " + (d / "synth").string() + " --grid 16x32 --steps 2 --steps-per-file 2");
    if (r.exit_code != 0) throw std::runtime_error("synth failed: " + r.err);
  }
  // A CGNet checkpoint with N=1, M=1 (train --resume with other settings is refused naming them).
  {
    nets::NetConfig c;
    c.type = "cgnet";
    c.params = {{"N", 1}, {"M", 1}};
    auto net = nets::make_network(c);
    nn::Parameters params(*net, 1);
    training::Normalizer norm;
    norm.channels = c.channels;
    norm.shift = {0, 0, 0, 0};
    norm.scale = {1, 1, 1, 1};
    nn::CheckpointInfo info;
    info.attributes = training::model_attributes(c, norm);
    nn::save_checkpoint(d / "cgnet_n1.h5", params, nullptr, info);
  }
  // Training configurations.
  std::ofstream(d / "bad_json.json") << "{\"data\": {\"train\": [\"x.nc\"]},";
  std::ofstream(d / "unknown_key.json") << R"({"data": {"train": ["x.nc"]}, "epochz": 3})";
  std::ofstream(d / "wrong_type.json") << R"({"data": {"train": ["x.nc"]}, "batch_size": "four"})";
  std::ofstream(d / "no_train.json") << R"({"epochs": 1})";
  std::ofstream(d / "bad_stats.json") << R"({"format": "climseg-stats", "channels": [{"name": 3}]})";
  // An input that a predict output would replace: a.climseg.nc beside a.nc in the output folder.
  fs::create_directories(d / "collide");
  fs::copy_file(d / "ok/a.nc", d / "collide/a.nc");
  ncgen(d / "collide/a.climseg.nc", cam_cdl("-30, 0, 30", "3, 4"));
  // Label: an input named like label's output for another input.
  fs::create_directories(d / "collide_label");
  fs::copy_file(d / "ok/a.nc", d / "collide_label/x.nc");
  ncgen(d / "collide_label/x.labels.nc", cam_cdl("-30, 0, 30", "3, 4"));
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      // Issue 2: inspect and the command line.
      {"MissingFile", "#2", "a file that does not exist", "inspect {D}/nosuch.nc", 1,
       R"(\{D\}/nosuch.nc: no such file)"},
      {"Directory", "#2", "a directory where a file is expected", "inspect {D}/ok", 1,
       R"(\{D\}/ok: is a directory, not a NetCDF or HDF5 file)"},
      {"TextFile", "#2", "a text file named .nc", "inspect {D}/text.nc", 1,
       R"(\{D\}/text.nc: not a NetCDF or HDF5 file \(unrecognised signature\))"},
      {"TruncatedHeader", "#2", "a netCDF-3 file cut inside its header", "inspect {D}/truncated_header.nc", 1,
       R"(\{D\}/truncated_header.nc: malformed netCDF-3 header at byte \d+: header runs past the end of the file)"},
      {"TruncatedData", "#2 #3", "a netCDF-3 file cut inside its data", "inspect {D}/truncated_data.nc", 1,
       R"(\{D\}/truncated_data.nc: the file is truncated or damaged: its header describes \d+ bytes of data but the file has \d+)"},
      {"TruncatedNetcdf4", "#3", "a netCDF-4 (HDF5) file cut in half", "stats --in {D}/truncated_nc4.nc --out -", 1,
       R"(\{D\}/truncated_nc4.nc: .+)"},
      {"UnknownOption", "#2", "an unknown option", "inspect --bogus {D}/ok/a.nc", 2, R"(.*--bogus.*)"},
      {"UnknownCommand", "#2", "an unknown subcommand", "frobnicate", 2, R"(.*frobnicate.*)"},
      {"BadChoice", "#2 #3", "an option value outside its choices", "stats --in {D}/ok/a.nc --out - --fill maybe", 2,
       R"(.*--fill.*maybe.*)"},
      // Issue 3: archives.
      {"UnknownVariable", "#3", "an unknown variable (the ones available are listed)",
       "stats --in {D}/ok --vars XX --out -", 1, R"(\{D\}/ok/a.nc: unknown variable 'XX' \(available: TMQ, U\))"},
      {"MissingLevel", "#3", "a level that is not in the file", "stats --in {D}/ok/a.nc --vars U@850 --out -", 1,
       R"(\{D\}/ok/a.nc: variable 'U' has no level 850 \(levels: 1000, 500 hPa\))"},
      {"GridsDiffer", "#3", "files on different grids", "stats --in {D}/grids --vars TMQ --out -", 1,
       R"(\{D\}/grids/b.nc: grid differs from the first file of the archive: .+)"},
      {"TimeOverlap", "#3", "files whose time steps overlap", "stats --in {D}/overlap --vars TMQ --out -", 1,
       R"(\{D\}/overlap/b.nc: time steps overlap with \{D\}/overlap/a.nc .+)"},
      {"TimeBackwards", "#3", "time going backwards inside a file", "stats --in {D}/backwards.nc --vars TMQ --out -", 1,
       R"(\{D\}/backwards.nc: .*time.*)"},
      {"UnstructuredGrid", "#3", "unstructured columns given to a command that reads lat-lon grids only",
       "evaluate --model {D}/model.h5 --in {D}/unstructured.nc", 1,
       R"(\{D\}/unstructured.nc: unstructured grid \(lat and lon are both over dimension ncol, 5 columns\): this )"
       R"(command reads latitude-longitude grids; climseg remap --to HxW makes one)"},
      {"LabelColumnsWaves", "#3", "an option the column path of label cannot honour",
       "label --in {D}/unstructured.nc --out {D}/label_columns --detect tc,waves", 2,
       R"(--detect waves: lat-lon archives only \(\{D\}/unstructured.nc has unstructured columns; use --detect )"
       R"(tc,ar\))"},
      {"CurvilinearGrid", "#3", "a grid neither lat-lon nor unstructured columns (2-D lat and lon)",
       "stats --in {D}/curvilinear.nc --out -", 1,
       R"(\{D\}/curvilinear.nc: curvilinear grid \(lat and lon are 2-D over \(y, x\)\): regrid to )"
       R"(latitude-longitude first)"},
      {"AllFillWarns", "#3", "a field that is entirely fill values (default: warn and mask)",
       "stats --in {D}/allfill.nc --vars TMQ --out -", 0,
       R"(\{D\}/allfill.nc: variable TMQ \(channel TMQ\) at 2000-01-01T00:00:00 is entirely fill values: masked)"},
      {"AllFillError", "#3", "the same with --fill error", "stats --in {D}/allfill.nc --vars TMQ --out - --fill error",
       1, R"(\{D\}/allfill.nc: variable TMQ \(channel TMQ\) at 2000-01-01T00:00:00 is entirely fill values)"},
      {"NanInfCounted", "#8", "NaN and ±Inf in a field (not fill values): counted, masked, reported",
       "stats --in {D}/nan.nc --vars TMQ --out -", 0,
       R"(\{D\}/nan.nc: variable TMQ at 2000-01-01T00:00:00: 3 NaN/Inf value\(s\) that are not fill values, masked .*)"},
      // Issue 8: hostile headers.
      {"HugeGrid", "#8", "a netCDF-4 header claiming a 10^6 x 10^6 grid (10^12 cells)",
       "stats --in {D}/huge_grid.nc --out -", 1,
       R"(\{D\}/huge_grid.nc: one sample \(1 channels on a 1000000x1000000 grid\) would need [0-9.]+ TiB .+ more than the memory budget of .+ \(set CLIMSEG_MEMORY_BUDGET to allow more\))"},
      {"IsaUnknown", "#18", "CLIMSEG_ISA=sse5 in the environment, naming no kernel level", "--version", 2,
       R"(CLIMSEG_ISA=sse5: not a level; use (baseline(, avx2)?(, avx512)?|avx2|avx512) \(or unset it for this CPU's best\))",
       "CLIMSEG_ISA=sse5"},
      {"MemoryBudget", "#8", "an ordinary archive under a tiny CLIMSEG_MEMORY_BUDGET",
       "stats --in {D}/ok/a.nc --vars TMQ --out -", 1,
       R"(\{D\}/ok/a.nc: one sample \(1 channels on a 3x4 grid\) would need 144 B \(36 values of 4 bytes\), more than the memory budget of 100 B .+)",
       "CLIMSEG_MEMORY_BUDGET=100"},
      {"HugeClassicDims", "#8", "a netCDF-3 header claiming 10^6 x 10^6 floats in a 400-byte file",
       "inspect {D}/edges/edge_huge_dim.nc", 1,
       R"(\{D\}/edges/edge_huge_dim.nc: the file is truncated or damaged: its header describes \d+ bytes of data but the file has \d+)"},
      {"NegativeDim", "#8", "a netCDF-3 header with a negative dimension length",
       "inspect {D}/edges/edge_negative_dim.nc", 1, R"(\{D\}/edges/edge_negative_dim.nc: .+)"},
      {"ZeroLengthDim", "#8", "a zero-length latitude dimension", "stats --in {D}/zero_lat.nc --out -", 1,
       R"(\{D\}/zero_lat.nc: .+)"},
      {"CharField", "#8", "a field of type char", "stats --in {D}/char_field.nc --vars TMQ --out -", 1,
       R"(\{D\}/char_field.nc: .*TMQ.*)"},
      {"StringField", "#8", "a field of type string", "stats --in {D}/string_field.nc --vars TMQ --out -", 1,
       R"(\{D\}/string_field.nc: .*TMQ.*)"},
      // Issue 5: models and configurations.
      {"MissingModel", "#5", "a model file that does not exist",
       "predict --model {D}/nosuch.h5 --in {D}/ok --out {D}/pred_missing", 1, R"(\{D\}/nosuch.h5: no such model file)",
       "", "pred_missing"},
      {"MissingBundledModel", "#18", "a bare model name that is neither in the working folder nor bundled",
       "predict --model nosuch_model.h5 --in {D}/ok --out {D}/pred_bare", 1,
       R"(nosuch_model.h5: no such model file \(nor a bundled model in \{D\}/bundled/models\))",
       "CLIMSEG_DATA_DIR={D}/bundled", "pred_bare"},
      {"NotAModel", "#5", "a NetCDF file given as the model",
       "predict --model {D}/nc4.nc --in {D}/ok --out {D}/pred_nm", 1,
       R"(\{D\}/nc4.nc: not a model: no state_dict group .+)", "", "pred_nm"},
      {"TruncatedModel", "#5 #8", "a checkpoint cut in half",
       "predict --model {D}/truncated_model.h5 --in {D}/ok --out {D}/pred_tm", 1, R"(\{D\}/truncated_model.h5: .+)", "",
       "pred_tm"},
      {"WrongChannels", "#5 #16", "an archive that lacks a channel the model needs",
       "predict --model {D}/model.h5 --in {D}/ok --out {D}/pred_wc --channels TMQ", 1,
       R"(\{D\}/ok/a.nc: 1 of the 2 channels is missing: U850: variable 'U' has no level 850 \(levels: 1000, 500 )"
       R"(hPa\); the file has TMQ, U; name the variable of each with --channels U850=VAR)",
       "", "pred_wc/a.climseg.nc"},
      {"ChannelsByPosition", "#16", "--channels naming variables instead of the model's channels",
       "predict --model {D}/model.h5 --in {D}/ok --out {D}/pred_cp --channels TMQ,UWIND", 2,
       R"(--channels TMQ,UWIND: UWIND is not among the model's channels, which are TMQ; U850: channels are )"
       R"(matched by name, not by position; name the model's channel each variable feeds, e.g. )"
       R"(--channels TMQ=VAR,U850=VAR)",
       "", "pred_cp/a.climseg.nc"},
      {"BadJson", "#5", "a training config that is not JSON", "train --config {D}/bad_json.json", 2,
       R"(\{D\}/bad_json.json: not valid JSON: .+)"},
      {"UnknownConfigKey", "#5", "an unknown key in the training config", "train --config {D}/unknown_key.json", 2,
       R"(train config: unknown key 'epochz' \(known: .+\))"},
      {"WrongConfigType", "#5", "a config value of the wrong type", "train --config {D}/wrong_type.json", 2,
       R"(train config: 'batch_size' has the wrong type: "four")"},
      {"NoTrainingData", "#5", "a config without training data", "train --config {D}/no_train.json", 2,
       R"(train config: 'data.train' is required .+)"},
      {"TrainingDiverges", "#8", "a training run whose loss turns NaN/Inf (learning rate 1e30, max_bad_steps 0)",
       "train --data.train {D}/synth --data.channels TMQ,U850 --data.normalization none --model.type unet "
       "--model.depth 1 "
       "--model.width 2 --optimizer.lr 1e30 --batch_size 1 --max_steps 6 --max_bad_steps 0 --validate_every 0 "
       "--checkpoint_dir {D}/ckpt_nan",
       1, R"(training diverged: 1 steps with NaN/Inf loss or gradient \(max_bad_steps 0\); last good checkpoint: .+)"},
      // Issue 6: detectors.
      {"UnknownDetector", "#6", "an unknown detector", "label --in {D}/ok --out {D}/lab_ud --detect tc,hail", 2,
       R"(--detect: unknown detector 'hail' \(use tc, ar, waves\))", "", "lab_ud"},
      {"MissingDetectorField", "#6", "an archive without the fields a detector needs",
       "label --in {D}/ok --out {D}/lab_mf --detect tc", 1,
       R"(\{D\}/ok: the archive has no 850 hPa meridional wind field \(tried .+; name one with --var v850=VARIABLE\))",
       "", "lab_mf/a.labels.nc"},
      {"BadStatsFile", "#3 #6", "a malformed statistics file",
       "label --in {D}/ok --out {D}/lab_bs --detect ar --ar-method tmq --tmq-threshold 1 --ivt-threshold p95 --stats "
       "{D}/bad_stats.json",
       1, R"(\{D\}/bad_stats.json: .+)", "", "lab_bs/a.labels.nc"},
      // Issue 8: outputs.
      {"PredictOverwritesInput", "#8", "a predict output that would replace an input",
       "predict --model {D}/model.h5 --in {D}/collide --out {D}/collide --channels TMQ,U850=U@500", 2,
       R"(\{D\}/collide/a.climseg.nc: an input would be overwritten by an output; choose another --out)"},
      {"LabelOverwritesInput", "#8", "a label output that would replace an input",
       "label --in {D}/collide_label --out {D}/collide_label --detect ar --ar-method tmq", 2,
       R"(\{D\}/collide_label/x.labels.nc: an input would be overwritten by an output; choose another --out)"},
      {"ReadOnlyOutput", "#8", "an output folder nobody may write (/proc, refused even to root)",
       "stats --in {D}/ok/a.nc --vars TMQ --out /proc/climseg-stats.json", 1, R"(/proc/.*climseg-stats.json.*)"},
      {"DiskFull", "#8", "a write that fails part way (file size limit, SIGXFSZ ignored: as a full disk)",
       "synth -q --out {D}/full --grid 16x32 --steps 2 --steps-per-file 2", 1, R"(.*\{D\}/full/.*)", "",
       "full/synth.cam.h2.2000-01-01-00000.nc", "trap '' XFSZ; ulimit -f 40; {CMD}"},
      // Issue 16 item 8: failures leave nothing half-done; messages name the option and the fix.
      {"LabelFailsAfterTracks", "#16",
       "label failing after the cyclone pass (a --with-data channel not in the archive)",
       "label --in {D}/synth --out {D}/lab_p2 --detect tc --tc-no-warm-core --tc-no-thickness --with-data NOSUCH", 1,
       R"(.*unknown variable 'NOSUCH'.*)", "", "lab_p2/tc_tracks.csv"},
      {"EventsFailPartWay", "#16", "events failing part way (file size limit: as a full disk) after its tables",
       "events --in {D}/synth --labels-var LABELS --out {D}/ev_full --no-plots", 1,
       R"(\{D\}/ev_full/events_summary.nc: cannot .+)", "", "ev_full/events.csv", "trap '' XFSZ; ulimit -f 16; {CMD}"},
      {"DetectorParameterNamesItsOption", "#16", "a detector parameter out of range",
       "label --in {D}/synth --out {D}/lab_cr --detect tc --tc-core-radius -1", 2,
       R"(--tc-core-radius -1: must be positive)", "", "lab_cr/tc_tracks.csv"},
      {"NegativeThreads", "#16", "a negative thread count", "--threads -1 inspect {D}/ok/a.nc", 2,
       R"(.*--threads -1: give a number of threads \(1 or more\), or 0 for one per core.*)"},
      {"OutputFolderIsAFile", "#16", "an output folder that is a file",
       "stats --in {D}/ok/a.nc --vars TMQ --out {D}/text.nc/stats.json", 1,
       R"(--out \{D\}/text.nc/stats.json: \{D\}/text.nc is a file, not a directory)"},
      {"LabelOutIsAFile", "#16", "label --out naming a file",
       "label --in {D}/ok --out {D}/text.nc --detect ar --ar-method tmq", 1,
       R"(--out \{D\}/text.nc: is a file, not a directory)"},
      {"PlotVminNotBelowVmax", "#16", "--vmin not below --vmax",
       "plot --in {D}/ok/a.nc --var TMQ --out {D}/v.png --vmin 10 --vmax 5", 2,
       R"(--vmin 10 --vmax 5: the colour bar needs --vmin below --vmax)", "", "v.png"},
      {"LabelOutUnderAFile", "#16", "label --out inside a path that is a file",
       "label --in {D}/ok --out {D}/text.nc/labels --detect ar --ar-method tmq", 1,
       R"(--out \{D\}/text.nc/labels: \{D\}/text.nc is a file, not a directory)"},
      {"PredictOutUnderAFile", "#16", "predict --out inside a path that is a file",
       "predict --model {D}/model.h5 --in {D}/ok --out {D}/text.nc/pred --channels TMQ,U@500", 1,
       R"(--out \{D\}/text.nc/pred: \{D\}/text.nc is a file, not a directory)"},
      {"PlotPngUnderAFile", "#16", "plot --out FILE.png inside a path that is a file",
       "plot --in {D}/ok/a.nc --var TMQ --out {D}/text.nc/p.png --no-coastlines", 1,
       R"(\{D\}/text.nc/p.png: \{D\}/text.nc is a file, not a directory)"},
      {"SynthOutIsAFile", "#16", "synth --out naming a file", "synth -q --out {D}/text.nc --grid 16x32 --steps 1", 1,
       R"(--out \{D\}/text.nc: is a file, not a directory)"},
      {"CheckpointDirIsAFile", "#16", "train --checkpoint_dir naming a file",
       "train --data.train {D}/synth --batch_size 1 --max_steps 1 --validate_every 0 --checkpoint_dir {D}/text.nc", 1,
       R"(--checkpoint_dir \{D\}/text.nc: is a file, not a directory)"},
      {"ResumeWithOtherModelSettings", "#16", "train --resume from a checkpoint made with other model settings",
       "train --data.train {D}/synth --model.N 3 --model.M 1 --batch_size 1 --max_steps 1 --validate_every 0 "
       "--checkpoint_dir {D}/ck_other --resume {D}/cgnet_n1.h5",
       2,
       R"(\{D\}/cgnet_n1.h5: resuming another network: checkpoint has model.N=1, this run asks model.N=3 \(resume with the checkpoint's settings, or start a new checkpoint_dir\))"},
  };
  return all;
}

class BadInput : public ::testing::TestWithParam<Case> {
 public:
  static void SetUpTestSuite() { (void)fixture_dir(); }
};

const fs::path& fixture_dir() {
  static TempDir dir;
  static bool made = [] {
    make_fixtures(dir.path());
    return true;
  }();
  (void)made;
  return dir.path();
}

TEST_P(BadInput, OneClearLine) {
  const Case& c = GetParam();
  const std::string d = fixture_dir().string();
  const std::string args = replace_all(c.args, "{D}", d);
  const std::string env = replace_all(c.env, "{D}", d);
  std::string command = (env.empty() ? "" : "env " + env + " ") + climseg_exe().string() + " " + args;
  if (!c.wrap.empty()) command = replace_all(c.wrap, "{CMD}", command);
  const RunResult r = run_command(command);
  // (DiskFull used to end with 139 from HDF5's exit handler; climseg now leaves without it.)
  EXPECT_EQ(r.exit_code, c.exit_code) << command << "\n" << r.err;
  // The one line that matters: the error, or for exit 0 the first warning.
  const std::string prefix = c.exit_code == 0 ? "warning: " : "climseg: error: ";
  std::vector<std::string> lines;
  std::istringstream in(r.err);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) lines.push_back(line.substr(prefix.size()));
  ASSERT_EQ(lines.size(), 1u) << command << "\nstderr:\n" << r.err;
  const std::string pattern = replace_all(c.message, "\\{D\\}", d);
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(pattern))) << "got:      " << lines[0] << "\nexpected: " << pattern;
  if (c.exit_code != 0) {
    EXPECT_EQ(r.out.find("climseg: error"), std::string::npos);
  }
  if (!c.no_file.empty()) {
    EXPECT_FALSE(fs::exists(fixture_dir() / c.no_file)) << c.no_file << " was left behind";
  }
  if (std::getenv("CLIMSEG_PRINT_TABLE") != nullptr)
    std::printf("TABLE| %s | %s | `climseg %s` | %d | `%s` | `BadInput.OneClearLine/%s` |\n", c.issue.c_str(),
                c.what.c_str(), replace_all(args, d, "D").c_str(), r.exit_code, replace_all(lines[0], d, "D").c_str(),
                c.name.c_str());
}

INSTANTIATE_TEST_SUITE_P(Table, BadInput, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

}  // namespace
}  // namespace climseg::test
