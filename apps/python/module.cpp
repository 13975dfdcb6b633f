// `_climseg`, the compiled half of the Python package `climseg` (apps/python/climseg/ holds the
// other half: xarray in and out, channel look-up, the accessor, Dask and Zarr). It takes numpy
// arrays as they are (float32, C order: no copy) and runs the same library code as the command
// line, with the GIL released. Errors: bad input or usage raises ValueError, other failures
// RuntimeError, each with climseg's one-line message (docs/python.md).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/python/inputs.hpp"

namespace py = pybind11;
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/threads.hpp"
#include "models/training/data.hpp"
#include "models/training/metrics.hpp"
#include "models/training/model_io.hpp"
#include "models/training/predictor.hpp"
#include "models/training/trainer.hpp"
#include "nn/precision.hpp"
#include "readers/cf_file.hpp"
#include "readers/orientation.hpp"
#include "readers/units.hpp"

namespace climseg::python {

void bind_pipelines(py::module_& mod);  // pipelines.cpp

namespace {

// The model's inputs as Steps: its channels' specs, the count checked.
Steps model_steps(const training::ModelBundle& m, const std::vector<FloatArray>& channels,
                  const std::vector<std::string>& vars, const std::vector<std::string>& file_units,
                  const std::string& given, const DoubleArray& lat, const DoubleArray& lon) {
  const auto C = static_cast<size_t>(m.config.in_channels());
  if (channels.size() != C || vars.size() != C || file_units.size() != C)
    throw py::value_error(fmt::format("the model takes {} channels ({}); {} given", C,
                                      fmt::join(m.config.channels, ","), channels.size()));
  const std::vector<io::ChannelSpec> specs = checking_input([&] {
    std::vector<io::ChannelSpec> sp = m.input_specs(given);
    if (sp.size() != C) fail("internal: {} channel specs for {} channels", sp.size(), C);
    return sp;
  });
  return Steps(specs, m.config.channels, channels, vars, file_units, lat, lon);
}

// A loaded model and the network compiled for the last grid and options it ran with.
class Model {
 public:
  explicit Model(const std::string& path)
      : m_(std::make_shared<training::ModelBundle>(checking_input([&] { return training::load_model(path); }))) {}

  const training::ModelBundle& bundle() const { return *m_; }

  // The channel specs that find the model's inputs (ModelBundle::input_specs), as dicts.
  py::list specs(const std::string& given) const {
    const std::vector<io::ChannelSpec> specs = checking_input([&] { return m_->input_specs(given); });
    py::list out;
    for (const io::ChannelSpec& s : specs) {
      py::dict d;
      d["name"] = s.name;
      d["var"] = s.var;
      d["level"] = s.level;
      d["text"] = s.text;
      d["units"] = s.units;
      d["standard_names"] = s.standard_names;
      d["standard_level"] = s.standard_level;
      d["aliases"] = s.aliases;
      out.append(d);
    }
    return out;
  }

  py::object training_grid() const {
    if (!m_->training_grid) return py::none();
    const geo::Grid& g = *m_->training_grid;
    py::dict d;
    d["height"] = g.height();
    d["width"] = g.width();
    d["lat"] = g.lat;
    d["lon"] = g.lon;
    return d;
  }

  // Class mask (T, H, W) int8 (-1 where an input is missing and fill_policy is mask) and, when
  // asked, each class's probability (T, H, W) float32, in the data's own layout.
  py::dict predict(const std::vector<FloatArray>& channels, const std::vector<std::string>& vars,
                   const std::vector<std::string>& file_units, const std::string& given, const DoubleArray& lat,
                   const DoubleArray& lon, bool probabilities, const std::string& batchnorm, bool regrid,
                   const std::string& fill_policy, const std::string& precision) {
    const training::ModelBundle& m = *m_;
    training::GridPredictorOptions o;
    training::MissingPolicy missing_policy{};
    checking_input([&] {
      o.batchnorm = training::parse_batchnorm(batchnorm);
      o.precision = nn::parse_precision(precision, "precision");
      nn::require_precision(o.precision);
      missing_policy = training::parse_missing_policy(fill_policy);
      if (regrid && !m.training_grid)
        fail_usage("{}: regrid=True: the model records no training grid (a checkpoint from before climseg stored it)",
                   m.source);
      return 0;
    });
    const Steps steps = model_steps(m, channels, vars, file_units, given, lat, lon);
    if (regrid && !m.training_grid->same_as(steps.grid())) o.net_grid = *m.training_grid;
    const int64_t T = steps.steps(), Hf = steps.file_height(), Wf = steps.file_width(), K = m.config.num_classes();
    py::array_t<int8_t> mask({T, Hf, Wf});
    std::vector<py::array_t<float>> probs;
    if (probabilities)
      for (int64_t c = 0; c < K; ++c) probs.emplace_back(std::vector<int64_t>{T, Hf, Wf});
    int8_t* mask_out = mask.mutable_data();
    std::vector<float*> prob_out;
    for (auto& p : probs) prob_out.push_back(p.mutable_data());
    int64_t missing_total = 0, steps_with_missing = 0;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      training::GridPredictor& predictor = predictor_for(steps.grid(), o);
      const int64_t H = steps.grid().height(), W = steps.grid().width(), HW = H * W;
      const geo::Orientation& orient = steps.orientation();
      std::vector<uint8_t> missing, cls(static_cast<size_t>(HW));
      std::vector<float> plane(prob_out.empty() ? 0 : static_cast<size_t>(HW));
      io::Sample& s = sample_;  // its buffers reused from call to call
      for (int64_t t = 0; t < T; ++t) {
        steps.load(t, s);
        const int64_t n_missing = checking_input([&] { return training::missing_cells(s, missing_policy, missing); });
        missing_total += n_missing;
        steps_with_missing += n_missing > 0;
        const bool blank = n_missing > 0 && missing_policy == training::MissingPolicy::mask;
        // (K, Ho, Wo) in the network's buffer, no copy; the sample's (H, W) is its corner.
        const float* p = predictor.probabilities_view(s);
        const int64_t Ho = predictor.rows(), Wo = predictor.cols();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < H; ++i) training::argmax_classes(p + i * Wo, K, Ho, Wo, 1, W, cls.data() + i * W);
        if (blank)
          for (int64_t k = 0; k < HW; ++k)
            if (missing[static_cast<size_t>(k)]) cls[static_cast<size_t>(k)] = 0xFF;  // -1 as int8
        io::to_file_order(cls.data(), reinterpret_cast<uint8_t*>(mask_out) + t * Hf * Wf, H, W, orient);
        for (int64_t c = 0; c < static_cast<int64_t>(prob_out.size()); ++c) {
          for (int64_t i = 0; i < H; ++i)
            std::copy(p + (c * Ho + i) * Wo, p + (c * Ho + i) * Wo + W, plane.data() + i * W);
          if (blank)
            for (int64_t k = 0; k < HW; ++k)
              if (missing[static_cast<size_t>(k)])
                plane[static_cast<size_t>(k)] = std::numeric_limits<float>::quiet_NaN();
          io::to_file_order(plane.data(), prob_out[static_cast<size_t>(c)] + t * Hf * Wf, H, W, orient);
        }
      }
    }
    py::dict out;
    out["class_mask"] = mask;
    py::list pl;
    for (auto& p : probs) pl.append(p);
    out["probabilities"] = pl;
    out["missing_cells"] = missing_total;
    out["steps_with_missing"] = steps_with_missing;
    out["batchnorm"] = training::batchnorm_description(o.batchnorm);
    out["regridded"] = o.net_grid.has_value();
    return out;
  }

  // The confusion matrix of the model's classes against `labels` (T, H, W): class ids, negative or
  // NaN where unknown. Scores as `climseg evaluate` gives them (ConfusionMatrix::to_json).
  nlohmann::json evaluate(const std::vector<FloatArray>& channels, const std::vector<std::string>& vars,
                          const std::vector<std::string>& file_units, const std::string& given, const DoubleArray& lat,
                          const DoubleArray& lon, const FloatArray& labels, const std::string& batchnorm,
                          const std::string& fill_policy) {
    const training::ModelBundle& m = *m_;
    training::GridPredictorOptions o;
    training::MissingPolicy missing_policy{};
    checking_input([&] {
      o.batchnorm = training::parse_batchnorm(batchnorm);
      missing_policy = training::parse_missing_policy(fill_policy);
      return 0;
    });
    const Steps steps = model_steps(m, channels, vars, file_units, given, lat, lon);
    const int64_t T = steps.steps(), Hf = steps.file_height(), Wf = steps.file_width(), K = m.config.num_classes();
    if (labels.ndim() != 3 || labels.shape(0) != T || labels.shape(1) != Hf || labels.shape(2) != Wf)
      throw py::value_error(fmt::format("labels: expected ({}, {}, {}) on the channels' grid", T, Hf, Wf));
    training::ConfusionMatrix cm(K);
    int64_t missing_total = 0;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      training::GridPredictor& predictor = predictor_for(steps.grid(), o);
      const int64_t H = steps.grid().height(), W = steps.grid().width(), HW = H * W;
      const std::vector<double> area = steps.grid().row_areas();
      std::vector<int32_t> pred(static_cast<size_t>(HW)), truth(static_cast<size_t>(HW));
      std::vector<float> lab(static_cast<size_t>(HW));
      std::vector<uint8_t> missing;
      io::Sample s;
      for (int64_t t = 0; t < T; ++t) {
        steps.load(t, s);
        const int64_t n_missing = checking_input([&] { return training::missing_cells(s, missing_policy, missing); });
        missing_total += n_missing;
        const Tensor p = predictor.probabilities(s);
        training::argmax_classes(p.data(), K, H, W, H, W, pred.data());
        io::to_canonical(labels.data() + t * Hf * Wf, lab.data(), H, W, steps.orientation());
        // As fill_input reads labels: finite values in [0, K), rounded; the rest are not scored.
        for (int64_t k = 0; k < HW; ++k) {
          const float v = lab[static_cast<size_t>(k)];
          truth[static_cast<size_t>(k)] = std::isfinite(v) && v >= 0 && v < float(K)
                                              ? static_cast<int32_t>(std::lround(v))
                                              : training::kIgnoreLabel;
          if (n_missing > 0 && missing_policy == training::MissingPolicy::mask && missing[static_cast<size_t>(k)])
            truth[static_cast<size_t>(k)] = training::kIgnoreLabel;
        }
        cm.add(pred.data(), truth.data(), H, W, area);
      }
    }
    nlohmann::json j = cm.to_json(m.config.classes);
    j["model"] = m.source;
    j["batchnorm"] = training::batchnorm_name(o.batchnorm);
    j["fill_policy"] = training::missing_policy_name(missing_policy);
    j["missing_input_cells"] = missing_total;
    return j;
  }

 private:
  training::GridPredictor& predictor_for(const geo::Grid& grid, const training::GridPredictorOptions& o) {
    const bool same = predictor_ && grid_->same_as(grid, 0.0) && options_.batchnorm == o.batchnorm &&
                      options_.precision == o.precision && options_.net_grid.has_value() == o.net_grid.has_value();
    if (!same) {
      predictor_.reset();
      predictor_ = std::make_unique<training::GridPredictor>(*m_, grid, o);
      grid_ = grid;
      options_ = o;
    }
    return *predictor_;
  }

  std::shared_ptr<training::ModelBundle> m_;
  std::mutex mutex_;
  std::unique_ptr<training::GridPredictor> predictor_;
  io::Sample sample_;
  std::optional<geo::Grid> grid_;
  training::GridPredictorOptions options_;
};

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw py::value_error(fmt::format("{}: not valid JSON: {}", what, e.what()));
  }
}

// The level index that a level specification ("850", "85000Pa", "#3") selects on an axis.
int64_t level_index(const std::string& name, const std::vector<double>& values, const std::string& units,
                    const std::string& standard_name, const std::string& spec) {
  io::LevelAxis axis;
  axis.name = name;
  axis.dim = name;
  axis.values = values;
  axis.units = units;
  axis.standard_name = standard_name;
  return io::find_level_index(axis, spec);
}

}  // namespace
}  // namespace climseg::python

PYBIND11_MODULE(_climseg, mod) {
  using namespace climseg;
  using climseg::python::Model;
  mod.doc() = "climseg's compiled core (use the package `climseg`)";

  // UsageError is a subclass of Error: registered translators run newest first.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  mod.def(
      "version", [] { return build::describe(); }, "climseg's version and build");
  mod.def(
      "set_threads", [](int n) { set_num_threads(n); },
      "Threads of climseg's computations (OpenMP and OpenBLAS); 0 or less: the default (cores / ranks on this "
      "node, or CLIMSEG_NUM_THREADS / OMP_NUM_THREADS)",
      py::arg("n"));
  mod.def(
      "get_threads", [] { return num_threads(); }, "Threads climseg computes with");
  mod.def(
      "set_log_level",
      [](const std::string& level) {
        static const std::vector<std::pair<std::string, log::Level>> levels = {{"error", log::Level::error},
                                                                               {"warn", log::Level::warn},
                                                                               {"info", log::Level::info},
                                                                               {"debug", log::Level::debug},
                                                                               {"trace", log::Level::trace}};
        for (const auto& [name, l] : levels)
          if (name == level) return log::set_level(l);
        throw py::value_error("log level " + level + ": expected error, warn, info, debug or trace");
      },
      py::arg("level"));
  mod.def("level_index", &python::level_index, py::arg("name"), py::arg("values"), py::arg("units"),
          py::arg("standard_name"), py::arg("spec"));

  py::class_<Model>(mod, "Model")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def_property_readonly("source", [](const Model& m) { return m.bundle().source; })
      .def_property_readonly("kind", [](const Model& m) { return m.bundle().kind; })
      .def_property_readonly("architecture", [](const Model& m) { return m.bundle().config.type; })
      .def_property_readonly("channels", [](const Model& m) { return m.bundle().config.channels; })
      .def_property_readonly("classes", [](const Model& m) { return m.bundle().config.classes; })
      .def_property_readonly("training_grid", &Model::training_grid)
      .def("specs", &Model::specs, py::arg("given") = "")
      .def("predict", &Model::predict, py::arg("channels"), py::arg("vars"), py::arg("file_units"), py::arg("given"),
           py::arg("lat"), py::arg("lon"), py::arg("probabilities"), py::arg("batchnorm"), py::arg("regrid"),
           py::arg("fill_policy"), py::arg("precision"))
      .def(
          "evaluate",
          [](Model& m, const std::vector<python::FloatArray>& channels, const std::vector<std::string>& vars,
             const std::vector<std::string>& file_units, const std::string& given, const python::DoubleArray& lat,
             const python::DoubleArray& lon, const python::FloatArray& labels, const std::string& batchnorm,
             const std::string& fill_policy) {
            return m.evaluate(channels, vars, file_units, given, lat, lon, labels, batchnorm, fill_policy).dump();
          },
          py::arg("channels"), py::arg("vars"), py::arg("file_units"), py::arg("given"), py::arg("lat"), py::arg("lon"),
          py::arg("labels"), py::arg("batchnorm"), py::arg("fill_policy"));

  mod.def(
      "train",
      [](const std::string& config_json) {
        nlohmann::json doc = python::parse_json(config_json, "config");
        training::TrainConfig cfg = python::checking_input([&] { return training::TrainConfig::from_json(doc); });
        training::TrainResult r;
        {
          py::gil_scoped_release release;
          r = training::train(cfg, Comm::world());
        }
        return nlohmann::json{{"steps", r.steps},
                              {"skipped_steps", r.skipped_steps},
                              {"last_loss", r.last_loss},
                              {"stopped_by_time", r.stopped_by_time},
                              {"last_checkpoint", r.last_checkpoint},
                              {"best_checkpoint", r.best_checkpoint},
                              {"validation", r.last_validation},
                              {"config", cfg.to_json()}}
            .dump();
      },
      py::arg("config_json"), "Runs `climseg train` on a configuration (JSON text); returns the report as JSON text");

  python::bind_pipelines(mod);
}
