// `moescope export TRACE.h5 --csv DIR [--router-logits] [--run NAME]`
// Flat CSV tables of a trace for pandas / R (docs/trace-format.md, "CSV export"): runs.csv, tokens.csv,
// routing.csv (long: one row per selected expert), steps.csv, and router_logits.csv (long) on request.
// RFC 4180 quoting; floats with 9 significant digits (exact float round trip).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli/cli.h"
#include "app/cli/cli_args.h"
#include "engine/util/error.h"
#include "probes/trace/trace_reader.h"

namespace moescope::cli {

namespace {

const char* kUsage = "usage: moescope export TRACE.h5 --csv DIR [--router-logits] [--run NAME]\n";

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string num(float x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", double(x));
  return buf;
}

class CsvFile {
 public:
  CsvFile(const std::filesystem::path& path, const char* header) : m_path(path.string()), m_out(path, std::ios::binary) {
    if (!m_out) throw Error(m_path + ": cannot write");
    m_out << header << '\n';
  }
  std::ofstream& out() { return m_out; }
  void close() {
    m_out.close();
    if (!m_out) throw Error(m_path + ": write failed (disk full?)");
  }
  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
  std::ofstream m_out;
};

}  // namespace

int cmd_export(const Args& args) {
  std::string trace, dir, only_run;
  bool logits = false;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&]() -> const std::string& {
        if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
        return args[++i];
      };
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--csv") {
        dir = value();
      } else if (a == "--router-logits") {
        logits = true;
      } else if (a == "--run") {
        only_run = value();
      } else if (!a.empty() && a[0] == '-') {
        throw UsageError("unknown option '" + a + "'");
      } else if (trace.empty()) {
        trace = a;
      } else {
        throw UsageError("unexpected argument '" + a + "'");
      }
    }
    if (trace.empty()) throw UsageError("missing TRACE.h5");
    if (dir.empty()) throw UsageError("missing --csv DIR");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "moescope export: error: %s\n", e.what());
    return 2;
  }

  TraceReader reader(trace);
  std::vector<std::string> names = reader.info().runs;
  if (!only_run.empty()) {
    if (std::find(names.begin(), names.end(), only_run) == names.end())
      throw Error(trace + ": no run named '" + only_run + "'");
    names = {only_run};
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) throw Error(dir + ": cannot create directory");

  CsvFile runs(fs::path(dir) / "runs.csv",
               "run,model,family,strategy,backend,tokenizer,label,prompt,tokens,moe_layers,experts,k,complete");
  CsvFile tokens(fs::path(dir) / "tokens.csv", "run,position,token_id,text,is_prompt");
  CsvFile routing(fs::path(dir) / "routing.csv", "run,position,layer,moe_layer,rank,expert,weight,dropped");
  CsvFile steps(fs::path(dir) / "steps.csv", "run,step,first_position,tokens,prefill,wall_ns");
  std::unique_ptr<CsvFile> router_logits;
  if (logits) router_logits = std::make_unique<CsvFile>(fs::path(dir) / "router_logits.csv", "run,position,layer,moe_layer,expert,logit");

  int64_t routing_rows = 0;
  for (const std::string& name : names) {
    const RunData r = reader.read_run(name);
    const std::string run = csv_field(r.name);
    runs.out() << run << ',' << csv_field(r.model) << ',' << csv_field(r.family) << ',' << csv_field(r.strategy) << ','
               << csv_field(r.backend) << ',' << csv_field(r.tokenizer_sha256) << ',' << csv_field(r.label) << ','
               << csv_field(r.prompt) << ',' << r.num_tokens() << ',' << r.num_moe_layers() << ',' << r.num_experts << ','
               << r.k_max << ',' << (r.complete ? 1 : 0) << '\n';
    for (int t = 0; t < r.num_tokens(); ++t)
      tokens.out() << run << ',' << t << ',' << r.token_ids[size_t(t)] << ',' << csv_field(r.token_text[size_t(t)]) << ','
                   << int(r.is_prompt[size_t(t)]) << '\n';
    for (int t = 0; t < r.num_tokens(); ++t)
      for (int l = 0; l < r.num_moe_layers(); ++l) {
        const int32_t* ex = r.experts_at(t, l);
        const float* w = r.weights_at(t, l);
        const int dropped = r.dropped_at(t, l) ? 1 : 0;
        const std::string prefix = run + ',' + std::to_string(t) + ',' + std::to_string(r.moe_layers[size_t(l)]) + ',' +
                                   std::to_string(l) + ',';
        bool any = false;
        for (int j = 0; j < r.k_max; ++j) {
          if (ex[j] < 0) continue;
          any = true;
          routing.out() << prefix << j << ',' << ex[j] << ',' << num(w[j]) << ',' << dropped << '\n';
          ++routing_rows;
        }
        // A token that got no expert (dropped by capacity) still gets a row, so it is visible.
        if (!any) {
          routing.out() << prefix << "0,-1,0," << dropped << '\n';
          ++routing_rows;
        }
        if (router_logits) {
          const float* lg = r.logits_at(t, l);
          for (int e = 0; e < r.num_experts; ++e) router_logits->out() << prefix << e << ',' << num(lg[e]) << '\n';
        }
      }
    for (int s = 0; s < r.num_steps(); ++s)
      steps.out() << run << ',' << s << ','
                  << (size_t(s) < r.step_first_position.size() ? r.step_first_position[size_t(s)] : -1) << ','
                  << (size_t(s) < r.step_tokens.size() ? r.step_tokens[size_t(s)] : -1) << ','
                  << (size_t(s) < r.step_prefill.size() ? int(r.step_prefill[size_t(s)]) : 0) << ','
                  << r.step_ns[size_t(s)] << '\n';
  }
  nlohmann::json j;
  j["trace"] = trace;
  j["runs"] = names.size();
  j["routing_rows"] = routing_rows;
  j["files"] = nlohmann::json::array();
  for (CsvFile* f : {&runs, &tokens, &routing, &steps, router_logits.get()}) {
    if (!f) continue;
    f->close();
    j["files"].push_back(f->path());
  }
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace moescope::cli
